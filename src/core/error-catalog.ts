/**
 * The closed catalog of error reasons. Each reason has one gRPC canonical code and a one-line
 * meaning; README.md's error catalog lists exactly these (test/unit/error-catalog.test.ts keeps
 * the two in sync). Add a reason here, in its area's section, before throwing it.
 */
import type { ErrorCode } from './errors.ts';

interface ReasonSpec {
  code: ErrorCode;
  description: string;
}

export const ERROR_CATALOG = {
  // --- configuration and CLI ---
  CONFIG_INVALID: { code: 'INVALID_ARGUMENT', description: 'pitstop.yaml or an environment override is malformed or fails validation.' },
  CONFIG_NOT_FOUND: { code: 'NOT_FOUND', description: 'No pitstop.yaml at the feature repository root (see --repo).' },
  USAGE: { code: 'INVALID_ARGUMENT', description: 'A CLI command was called with missing or malformed arguments.' },

  // --- definitions and registry ---
  DEFINITION_INVALID: { code: 'INVALID_ARGUMENT', description: 'One or more feature definitions are malformed or inconsistent; every problem is listed with file, line and path.' },
  REGISTRY_EMPTY: { code: 'FAILED_PRECONDITION', description: 'No registry version has been applied yet (run pitstop apply).' },
  REGISTRY_VERSION_NOT_FOUND: { code: 'NOT_FOUND', description: 'The requested registry version does not exist.' },
  REGISTRY_CONFLICT: { code: 'ABORTED', description: 'Another apply wrote a registry version first; re-run plan and apply.' },
  REGISTRY_CORRUPT: { code: 'INTERNAL', description: 'A stored registry version fails its content hash check.' },

  // --- feature references (shared by offline and online) ---
  UNKNOWN_FEATURE_VIEW: { code: 'INVALID_ARGUMENT', description: 'A feature reference names a feature view (or view version) that the registry does not have.' },
  UNKNOWN_FEATURE: { code: 'INVALID_ARGUMENT', description: 'A feature reference names a feature its view does not define.' },
  UNKNOWN_FEATURE_SERVICE: { code: 'INVALID_ARGUMENT', description: 'The named feature service does not exist.' },
  BAD_FEATURE_REFERENCE: { code: 'INVALID_ARGUMENT', description: 'A feature reference is not of the form view[@version]:feature.' },
  FEATURE_NAME_COLLISION: { code: 'INVALID_ARGUMENT', description: 'Two requested features share a name; ask for full feature names (view__feature).' },

  // --- offline ---
  ENTITY_TABLE_INVALID: { code: 'INVALID_ARGUMENT', description: 'The entity table lacks a join key or event_timestamp column, or a column has the wrong type.' },
  SOURCE_UNREADABLE: { code: 'FAILED_PRECONDITION', description: 'A source or offline file cannot be read.' },
  OFFLINE_QUERY_FAILED: { code: 'INTERNAL', description: 'DuckDB failed while running an offline query.' },
  MATERIALIZATION_LOCKED: { code: 'ABORTED', description: 'Another materialize-offline run holds the lock of this view version (the message names the lock file, pid and start time); nothing was changed.' },

  // --- online store, materialization and push ---
  ONLINE_STORE_UNAVAILABLE: { code: 'UNAVAILABLE', description: 'The online store cannot be reached or failed; the call may be retried.' },
  ONLINE_STORE_KEY_CONFLICT: { code: 'FAILED_PRECONDITION', description: 'A key where pitstop keeps a row holds something other than a string (another application shares the Redis and key prefix); the message names the key. An atomic write (push) wrote nothing; remove the key or change key_prefix, then retry. (A read takes such a key for a missing row.)' },
  PUSH_ROWS_INVALID: { code: 'INVALID_ARGUMENT', description: 'A pushed batch has a row with a missing or mistyped field; nothing was written.' },
  PUSH_LOG_UNAVAILABLE: { code: 'UNAVAILABLE', description: 'The offline push log could not be opened or written; nothing of the batch was written online. The call may be retried.' },
  VIEW_NOT_ONLINE: { code: 'FAILED_PRECONDITION', description: 'The feature view is not enabled for the online store.' },
  VALUE_TYPE_MISMATCH: { code: 'INVALID_ARGUMENT', description: 'A value does not match the declared type of its feature or join key (the message names the field).' },
  ONLINE_ROW_CORRUPT: { code: 'INTERNAL', description: 'A stored online row or entity key cannot be decoded (unknown format version or truncated bytes).' },
  MATERIALIZE_FAILED: { code: 'INTERNAL', description: 'Materialization stopped part-way (the cause is attached); rerunning it completes the work.' },

  // --- serving ---
  BAD_REQUEST: { code: 'INVALID_ARGUMENT', description: 'A serving request is malformed: missing or mistyped join keys, uneven entity columns.' },
  LIMIT_EXCEEDED: { code: 'INVALID_ARGUMENT', description: 'A request exceeds the configured limit on entities, features or message size.' },
  DEADLINE_EXCEEDED: { code: 'DEADLINE_EXCEEDED', description: "The request's deadline passed before the answer was ready." },
  SHUTTING_DOWN: { code: 'UNAVAILABLE', description: 'The server is draining for shutdown.' },

  // --- anything else ---
  INTERNAL: { code: 'INTERNAL', description: 'An unexpected failure; details are logged on the server, never sent to clients.' },
} as const satisfies Record<string, ReasonSpec>;

export type ErrorReason = keyof typeof ERROR_CATALOG;
