//! The agent registry on SQL. Every write is one statement, so it is atomic on any backend without a
//! process lock: registration is an upsert that bumps the generation, and an allocated id is taken by an
//! upsert that only overwrites a row that is stopped or expired (or one registered at the same address).

use super::{SqlMetastore, to_i32};
use crate::{AgentEndpoint, AgentIncarnation, AgentRecord, AgentRegistration, MetaError, Result};
use sqlx::Row;

/// How many ids allocation tries past the live agents before giving up (they are all live or racing).
const ALLOCATION_ATTEMPTS: usize = 64;

macro_rules! upsert {
    ($tail:literal) => {
        concat!(
            "INSERT INTO agents (node_id, generation, host, port, zone, roles, listeners, started_ms, \
     heartbeat_ms, stopped_ms, peer_endpoint) VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, NULL, $9) ON CONFLICT \
     (node_id) DO UPDATE SET generation = agents.generation + 1, host = excluded.host, port = excluded.port, \
     zone = excluded.zone, roles = excluded.roles, listeners = excluded.listeners, \
     started_ms = excluded.started_ms, heartbeat_ms = excluded.heartbeat_ms, stopped_ms = NULL, \
     peer_endpoint = excluded.peer_endpoint",
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
                upsert!(" WHERE agents.stopped_ms IS NOT NULL OR agents.heartbeat_ms < $10 RETURNING generation")
            }
        };
        let mut q = sqlx::query(sql)
            .bind(i64::from(node_id))
            .bind(&a.host)
            .bind(i64::from(a.port))
            .bind(&a.zone)
            .bind(a.roles.join(","))
            .bind(encode_endpoints(&a.listeners))
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
            "SELECT node_id, generation, host, port, zone, roles, listeners, started_ms, heartbeat_ms, peer_endpoint \
     FROM agents \
             WHERE stopped_ms IS NULL AND heartbeat_ms >= $1 ORDER BY node_id",
        )
        .bind(now_ms.saturating_sub(ttl_ms))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let roles: String = r.try_get("roles")?;
                let host: String = r.try_get("host")?;
                let port = to_i32(r.try_get("port")?, "port")?;
                let listeners: String = r.try_get("listeners")?;
                Ok(AgentRecord {
                    node_id: to_i32(r.try_get("node_id")?, "node id")?,
                    generation: r.try_get("generation")?,
                    listeners: decode_endpoints(&listeners, &host, port)?,
                    host,
                    port,
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

/// The listeners column: `NAME://HOST:PORT` entries joined by commas (IPv6 hosts in brackets), as Kafka writes
/// `advertised.listeners`.
fn encode_endpoints(endpoints: &[AgentEndpoint]) -> String {
    let entry = |e: &AgentEndpoint| match e.host.contains(':') {
        true => format!("{}://[{}]:{}", e.listener, e.host, e.port),
        false => format!("{}://{}:{}", e.listener, e.host, e.port),
    };
    endpoints.iter().map(entry).collect::<Vec<_>>().join(",")
}

/// Reads the listeners column back; an empty one (a row written before it existed) is `PLAINTEXT` at the
/// row's host and port.
fn decode_endpoints(column: &str, host: &str, port: i32) -> Result<Vec<AgentEndpoint>> {
    if column.is_empty() {
        return Ok(vec![AgentEndpoint { listener: "PLAINTEXT".into(), host: host.into(), port }]);
    }
    let bad = || MetaError::Corrupt(format!("agent listeners {column:?} are not NAME://HOST:PORT,..."));
    column
        .split(',')
        .map(|entry| {
            let (name, address) = entry.split_once("://").ok_or_else(bad)?;
            let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
            let port = port.parse::<u16>().map_err(|_| bad())?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(AgentEndpoint { listener: name.into(), host: host.into(), port: i32::from(port) })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip_with_ipv6_hosts() {
        let endpoints = vec![
            AgentEndpoint { listener: "PLAINTEXT".into(), host: "10.0.0.1".into(), port: 9092 },
            AgentEndpoint { listener: "SSL".into(), host: "::1".into(), port: 9093 },
        ];
        let column = encode_endpoints(&endpoints);
        assert_eq!(column, "PLAINTEXT://10.0.0.1:9092,SSL://[::1]:9093");
        assert_eq!(decode_endpoints(&column, "x", 1).unwrap(), endpoints);
    }

    #[test]
    fn rows_without_listeners_are_plaintext_at_their_address() {
        let got = decode_endpoints("", "h", 9092).unwrap();
        assert_eq!(got, vec![AgentEndpoint { listener: "PLAINTEXT".into(), host: "h".into(), port: 9092 }]);
        assert!(decode_endpoints("PLAINTEXT:/h:1", "h", 1).is_err());
        assert!(decode_endpoints("A://h:99999", "h", 1).is_err());
    }
}
