//! The agent registry on SQL. Every write is one statement, so it is atomic on any backend without a
//! process lock: registration is an upsert that bumps the generation, and an allocated id is taken by an
//! upsert that only overwrites a row that is stopped or expired (or one registered at the same address).

use super::{SqlMetastore, to_i32};
use crate::{AgentIncarnation, AgentRecord, AgentRegistration, MetaError, Result};
use sqlx::Row;

/// How many ids allocation tries past the live agents before giving up (they are all live or racing).
const ALLOCATION_ATTEMPTS: usize = 64;

macro_rules! upsert {
    ($tail:literal) => {
        concat!(
            "INSERT INTO agents (node_id, generation, host, port, zone, roles, started_ms, heartbeat_ms, \
     stopped_ms, peer_endpoint) VALUES ($1, 1, $2, $3, $4, $5, $6, $7, NULL, $8) ON CONFLICT (node_id) DO \
     UPDATE SET generation = agents.generation + 1, host = excluded.host, port = excluded.port, \
     zone = excluded.zone, roles = excluded.roles, started_ms = excluded.started_ms, \
     heartbeat_ms = excluded.heartbeat_ms, stopped_ms = NULL, peer_endpoint = excluded.peer_endpoint",
            $tail
        )
    };
}

impl SqlMetastore {
    /// Upserts the registration of `node_id`; with `free_before` set, only over a row stopped or with no
    /// heartbeat since then (so a live agent's id is never taken). Returns the new generation, if taken.
    async fn upsert_agent(
        &self,
        node_id: i32,
        a: &AgentRegistration,
        now_ms: i64,
        free_before: Option<i64>,
    ) -> Result<Option<i64>> {
        let sql = match free_before {
            None => upsert!(" RETURNING generation"),
            Some(_) => {
                upsert!(" WHERE agents.stopped_ms IS NOT NULL OR agents.heartbeat_ms < $9 RETURNING generation")
            }
        };
        let mut q = sqlx::query(sql)
            .bind(i64::from(node_id))
            .bind(&a.host)
            .bind(i64::from(a.port))
            .bind(&a.zone)
            .bind(a.roles.join(","))
            .bind(a.started_ms)
            .bind(now_ms)
            .bind(a.peer_endpoint.as_deref());
        if let Some(before) = free_before {
            q = q.bind(before);
        }
        let row = q.fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get::<i64, _>("generation")).transpose()?)
    }

    async fn register_agent_impl(&self, a: &AgentRegistration, now_ms: i64, ttl_ms: i64) -> Result<AgentIncarnation> {
        let _w = self.writer().await?;
        let result = match a.node_id {
            Some(node_id) => match self.upsert_agent(node_id, a, now_ms, None).await? {
                Some(generation) => Ok(AgentIncarnation { node_id, generation }),
                None => Err(MetaError::Corrupt(format!("registering agent {node_id} returned no generation"))),
            },
            None => self.allocate_agent(a, now_ms, ttl_ms).await,
        };
        self.files.check().await?;
        result
    }

    /// Takes the smallest id no live agent holds. Another agent may take the same id between the read and the
    /// upsert; the conditional upsert then fails and the next free id is tried.
    async fn allocate_agent(&self, a: &AgentRegistration, now_ms: i64, ttl_ms: i64) -> Result<AgentIncarnation> {
        // The same address is the same agent restarted (two live agents cannot share one: clients could not
        // tell them apart), so it keeps its id and fences its previous incarnation at once.
        let same = sqlx::query("SELECT node_id FROM agents WHERE host = $1 AND port = $2 ORDER BY node_id LIMIT 1")
            .bind(&a.host)
            .bind(i64::from(a.port))
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = same {
            let node_id = to_i32(row.try_get("node_id")?, "node id")?;
            if let Some(generation) = self.upsert_agent(node_id, a, now_ms, None).await? {
                return Ok(AgentIncarnation { node_id, generation });
            }
        }
        let cutoff = now_ms.saturating_sub(ttl_ms);
        let live: Vec<i32> = self.live_agents_impl(now_ms, ttl_ms).await?.iter().map(|r| r.node_id).collect();
        let mut candidate = 0i32;
        for _ in 0..ALLOCATION_ATTEMPTS + live.len() {
            while live.contains(&candidate) {
                candidate = candidate.saturating_add(1);
            }
            if let Some(generation) = self.upsert_agent(candidate, a, now_ms, Some(cutoff)).await? {
                return Ok(AgentIncarnation { node_id: candidate, generation });
            }
            candidate = candidate.saturating_add(1);
        }
        Err(MetaError::Corrupt(format!("no free node id found after {ALLOCATION_ATTEMPTS} attempts")))
    }

    async fn touch_agent(&self, sql: &'static str, agent: AgentIncarnation, now_ms: i64) -> Result<bool> {
        let _w = self.writer().await?;
        let done = sqlx::query(sql)
            .bind(now_ms)
            .bind(i64::from(agent.node_id))
            .bind(agent.generation)
            .execute(&self.pool)
            .await?;
        self.files.check().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn live_agents_impl(&self, now_ms: i64, ttl_ms: i64) -> Result<Vec<AgentRecord>> {
        let rows = sqlx::query(
            "SELECT node_id, generation, host, port, zone, roles, started_ms, heartbeat_ms, peer_endpoint FROM agents \
             WHERE stopped_ms IS NULL AND heartbeat_ms >= $1 ORDER BY node_id",
        )
        .bind(now_ms.saturating_sub(ttl_ms))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let roles: String = r.try_get("roles")?;
                Ok(AgentRecord {
                    node_id: to_i32(r.try_get("node_id")?, "node id")?,
                    generation: r.try_get("generation")?,
                    host: r.try_get("host")?,
                    port: to_i32(r.try_get("port")?, "port")?,
                    zone: r.try_get("zone")?,
                    roles: roles.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                    started_ms: r.try_get("started_ms")?,
                    heartbeat_ms: r.try_get("heartbeat_ms")?,
                    peer_endpoint: r.try_get("peer_endpoint")?,
                })
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl crate::Agents for SqlMetastore {
    async fn register_agent(&self, agent: &AgentRegistration, now_ms: i64, ttl_ms: i64) -> Result<AgentIncarnation> {
        super::timed("register_agent", self.register_agent_impl(agent, now_ms, ttl_ms)).await
    }

    async fn heartbeat_agent(&self, agent: AgentIncarnation, now_ms: i64) -> Result<bool> {
        let sql = "UPDATE agents SET heartbeat_ms = $1 WHERE node_id = $2 AND generation = $3 AND stopped_ms IS NULL";
        super::timed("heartbeat_agent", self.touch_agent(sql, agent, now_ms)).await
    }

    async fn deregister_agent(&self, agent: AgentIncarnation, now_ms: i64) -> Result<bool> {
        let sql = "UPDATE agents SET stopped_ms = $1 WHERE node_id = $2 AND generation = $3 AND stopped_ms IS NULL";
        super::timed("deregister_agent", self.touch_agent(sql, agent, now_ms)).await
    }

    async fn live_agents(&self, now_ms: i64, ttl_ms: i64) -> Result<Vec<AgentRecord>> {
        self.live_agents_impl(now_ms, ttl_ms).await
    }
}
