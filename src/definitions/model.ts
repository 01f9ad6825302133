/**
 * Definitions as loaded from YAML: every object keeps where it came from, so any later check
 * (semantic checks here, version checks in the registry compiler) can report file, line and path.
 */
import type { Problem } from '../core/errors.ts';
import type { EntityYaml, FeatureServiceYaml, FeatureViewYaml, SourceYaml } from './schema.ts';
import type { PathPart } from './yaml-positions.ts';

export interface Located<T> {
  value: T;
  /** File relative to the repository, e.g. `definitions/riders.yaml`. */
  file: string;
  /** The object's own line. */
  line?: number;
  /** The object's path in its file, e.g. `feature_views[0]`. */
  path: string;
  /** A problem located at a sub-path of this object (`['features', 2, 'type']`). */
  problem(sub: readonly PathPart[], message: string): Problem;
}

export interface Definitions {
  /** Definition files read, relative to the repository, in the order read. */
  files: string[];
  entities: Located<EntityYaml>[];
  sources: Located<SourceYaml>[];
  featureViews: Located<FeatureViewYaml>[];
  featureServices: Located<FeatureServiceYaml>[];
}
