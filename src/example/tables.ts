/**
 * The example ride-hailing source tables, as DuckDB SQL. Every value comes from
 * `hash(i, seed, '<column>')`, a pure function of the row number and the seed, so the output is
 * identical across runs and thread counts (DuckDB's default `preserve_insertion_order` writes rows
 * in `i` order without a sort). Parameters: $1 rows,
 * $2 seed, $3 entity count, $4 base epoch seconds, $5 time span in seconds.
 */

/** Uniform [0, 1) from a hash, with 6 digits: enough for example data. */
const u = (col: string, extra = '') => `((hash(i, $2::BIGINT, '${col}'${extra}) % 1000000)::DOUBLE / 1000000.0)`;
const pick = (col: string, n: string) => `(hash(i, $2::BIGINT, '${col}') % ${n})`;
/** Row numbers with each row's event time, computed once per row (the outer SELECT uses it several times). */
const rows = `(SELECT i, to_timestamp($4::BIGINT + ${pick('event_ts', '$5::BIGINT')}::BIGINT) AS ts FROM range($1::BIGINT) t(i)) r`;
/**
 * The same, except that the last `$3` rows are a fresh snapshot of every entity in turn (`fresh`
 * true; entity `i - ($1 - $3) + 1`), with event times 10 to 30 minutes before the end and so
 * created times (up to 10 minutes later) before it too. A view with a short ttl (driver_stats,
 * 1h) then reads PRESENT for every entity right after `npm start` generates data ending now,
 * instead of OUTSIDE_MAX_AGE for most (one row per driver every ~7 hours on average otherwise).
 */
const freshFrom = '($1::BIGINT - $3::BIGINT)';
const rowsWithFreshSnapshot = `(SELECT i, i >= ${freshFrom} AS fresh,
    to_timestamp(CASE WHEN i >= ${freshFrom} THEN $4::BIGINT + $5::BIGINT - 600 - ${pick('fresh_ts', '1200')}::BIGINT
                      ELSE $4::BIGINT + ${pick('event_ts', '$5::BIGINT')}::BIGINT END) AS ts
    FROM range($1::BIGINT) t(i)) r`;

export interface ExampleTable {
  /** Directory under the output directory (sources point at `data/<dir>/*.parquet`). */
  dir: string;
  /** Rows as a function of the requested row count. */
  rows(n: number): number;
  /** Distinct entities the table draws keys from. */
  entities(n: number): number;
  /** SELECT producing the table. */
  sql: string;
}

export const ZONES = 40;
const riders = (n: number) => Math.max(100, Math.floor(n / 20));
const drivers = (n: number) => Math.max(50, Math.floor(n / 50));

export const EXAMPLE_TABLES: readonly ExampleTable[] = [
  {
    dir: 'rider_stats',
    rows: (n) => n,
    entities: riders,
    sql: `
      SELECT
        (1 + ${pick('rider', '$3::BIGINT')})::BIGINT AS rider,
        ts AS event_ts,
        ts + to_seconds(${pick('created', '600')}::BIGINT) AS created_ts,
        ${pick('trips', '40')}::INTEGER AS trips_7d,
        ${pick('trips', '40')}::BIGINT AS trip_count_7d,
        round(${pick('trips', '40')} * (5 + 30 * ${u('fare')}), 2)::DOUBLE AS fare_sum_7d,
        CASE WHEN ${pick('rating_null', '20')} = 0 THEN NULL ELSE (3 + 2 * ${u('rating')})::FLOAT END AS avg_rating_given,
        ${pick('premium', '10')} = 0 AS is_premium,
        'z' || lpad((${pick('zone', String(ZONES))})::VARCHAR, 3, '0') AS home_zone,
        ts - to_seconds(${pick('last_trip', '86400')}::BIGINT) AS last_trip_ts
      FROM ${rows}`,
  },
  {
    dir: 'driver_stats',
    rows: (n) => Math.max(1, Math.floor(n / 2)),
    entities: drivers,
    sql: `
      SELECT
        (CASE WHEN fresh THEN i - ${freshFrom} + 1 ELSE 1 + ${pick('driver', '$3::BIGINT')} END)::BIGINT AS driver_id,
        ts AS event_ts,
        ts + to_seconds(${pick('created', '600')}::BIGINT) AS created_ts,
        (0.5 + 0.5 * ${u('acceptance')})::FLOAT AS acceptance_rate,
        round(3.5 + 1.5 * ${u('rating')}, 3)::DOUBLE AS rating,
        ${pick('completed', '5000')}::BIGINT AS completed_trips,
        ${pick('online', '720')}::INTEGER AS online_minutes,
        ['sedan', 'suv', 'van', 'bike'][(1 + ${pick('vehicle', '4')})::BIGINT] AS vehicle_type
      FROM ${rowsWithFreshSnapshot}`,
  },
  {
    dir: 'driver_embeddings',
    // Two embedding snapshots per driver.
    rows: (n) => drivers(n) * 2,
    entities: drivers,
    sql: `
      SELECT
        (1 + (i // 2) % $3::BIGINT)::BIGINT AS driver_id,
        ts AS event_ts,
        list_transform(range(16), k -> (2 * ((hash(i, $2::BIGINT, 'emb', k) % 1000000)::DOUBLE / 1000000.0) - 1)::FLOAT) AS embedding
      FROM ${rows}`,
  },
  {
    dir: 'rider_driver',
    rows: (n) => Math.max(1, Math.floor(n / 2)),
    entities: riders,
    sql: `
      SELECT
        (1 + ${pick('rider', '$3::BIGINT')})::BIGINT AS rider_id,
        (1 + ${pick('driver', `greatest($3::BIGINT * 2 // 5, 50)`)})::BIGINT AS driver_id,
        ts AS event_ts,
        (1 + ${pick('together', '12')})::INTEGER AS trips_together,
        (1 + 4 * ${u('rating')})::FLOAT AS last_rating,
        ${pick('blocked', '50')} = 0 AS blocked
      FROM ${rows}`,
  },
  {
    dir: 'zone_demand',
    rows: (n) => Math.max(1000, Math.floor(n / 10)),
    entities: () => ZONES,
    sql: `
      SELECT
        'z' || lpad((${pick('zone', '$3::BIGINT')})::VARCHAR, 3, '0') AS zone_id,
        ts AS event_ts,
        ts + to_seconds(${pick('created', '60')}::BIGINT) AS created_ts,
        ${pick('requests', '200')}::INTEGER AS open_requests,
        ${pick('available', '150')}::INTEGER AS available_drivers,
        round(1 + 2 * ${u('surge')} * ${u('surge2')}, 2)::DOUBLE AS surge_multiplier
      FROM ${rows}`,
  },
];
