//! Schema migrations for PostgreSQL, applied in order, each in its own transaction. Replicas
//! starting together take turns through an advisory lock.

use deadpool_postgres::Object;

use super::PgResult;

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/postgres/0001_initial.sql"))];

/// The advisory lock migrations hold: "openmde" in ASCII.
const MIGRATION_LOCK: i64 = 0x006f_7065_6e6d_6465;

/// Applies the migrations the database lacks.
pub(super) async fn run(client: &mut Object) -> PgResult<()> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .await
        .or_else(ignore_concurrent_create)?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = apply(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    outcome?;
    unlocked?;
    Ok(())
}

async fn apply(client: &mut Object) -> PgResult<()> {
    let known: Vec<i64> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !known.contains(v)) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[version])
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Two processes creating the table at once: one of them sees a unique violation on the
/// catalog, and the table exists all the same.
fn ignore_concurrent_create(error: tokio_postgres::Error) -> Result<(), tokio_postgres::Error> {
    match error.code() {
        Some(code) if *code == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => Ok(()),
        _ => Err(error),
    }
}
