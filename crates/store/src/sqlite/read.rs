//! Queries behind the 360° view, the timeline, the consent ledger and the export.

use super::now_ms;
use crate::{Cursor, StoreError, StoreStats};
use concierge_types::consent::{ChannelScope, ConsentStatus, Evidence, LegalBasis, Purpose};
use concierge_types::view::{
    ConsentLedger, ConsentRecord, ConsentState, CustomerView, EventCounts, ExportDocument,
    IdentifierView, MergeAction, MergeView, TimelineEvent, TimelinePage, Timestamp, TraitView,
};
use concierge_types::{
    ApiKey, ConsentId, EventId, Identifier, IdentifierKind, KeyId, KeyScope, MergeId, ProfileId,
};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use std::collections::BTreeMap;

fn list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn root_of(conn: &Connection, id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT canonical_id FROM profiles WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()
}

fn members(conn: &Connection, root: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM profiles WHERE canonical_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([root], |r| r.get(0))?;
    rows.collect()
}

/// The cluster `id` belongs to: its root and members.
pub(super) fn cluster(
    conn: &Connection,
    id: ProfileId,
) -> rusqlite::Result<Option<(i64, Vec<i64>)>> {
    let Some(root) = root_of(conn, id.0)? else {
        return Ok(None);
    };
    Ok(Some((root, members(conn, root)?)))
}

pub(super) fn find_customer(
    conn: &Connection,
    id: &Identifier,
) -> Result<Option<ProfileId>, StoreError> {
    let root: Option<i64> = conn
        .prepare_cached("SELECT p.canonical_id FROM identifiers i JOIN profiles p ON p.id = i.profile_id WHERE i.kind = ?1 AND i.value = ?2")?
        .query_row(params![id.kind.as_str(), id.value], |r| r.get(0))
        .optional()?;
    Ok(root.map(ProfileId))
}

pub(super) fn customer_view(
    conn: &Connection,
    id: ProfileId,
) -> Result<Option<CustomerView>, StoreError> {
    let Some((root, members)) = cluster(conn, id)? else {
        return Ok(None);
    };
    let created_at: i64 = conn.query_row(
        "SELECT created_at FROM profiles WHERE id = ?1",
        [root],
        |r| r.get(0),
    )?;
    let l = list(members.len());

    let mut identifiers = Vec::new();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT kind, value, profile_id, first_seen, last_seen, first_source, first_channel, last_source, last_channel
             FROM identifiers WHERE profile_id IN ({l}) ORDER BY first_seen, id"
        ))?;
        let mut rows = stmt.query(params_from_iter(&members))?;
        while let Some(r) = rows.next()? {
            let Some(kind) = IdentifierKind::parse(&r.get::<_, String>(0)?) else {
                continue;
            };
            identifiers.push(IdentifierView {
                kind,
                value: r.get(1)?,
                profile_id: ProfileId(r.get(2)?),
                first_seen: Timestamp(r.get(3)?),
                last_seen: Timestamp(r.get(4)?),
                first_source: r.get(5)?,
                first_channel: r.get(6)?,
                last_source: r.get(7)?,
                last_channel: r.get(8)?,
            });
        }
    }
    identifiers.sort_by_key(|i| (i.kind.priority(), i.first_seen));

    let mut traits: BTreeMap<String, TraitView> = BTreeMap::new();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT key, value, source, updated_at FROM traits WHERE profile_id IN ({l})"
        ))?;
        let mut rows = stmt.query(params_from_iter(&members))?;
        while let Some(r) = rows.next()? {
            let key: String = r.get(0)?;
            let updated = Timestamp(r.get(3)?);
            if traits.get(&key).is_some_and(|t| t.updated_at > updated) {
                continue;
            }
            let value =
                serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or(serde_json::Value::Null);
            traits.insert(
                key,
                TraitView {
                    value,
                    source: r.get(2)?,
                    updated_at: updated,
                },
            );
        }
    }

    let mut counts = EventCounts::default();
    let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT kind, name, channel, COUNT(*), MIN(ts), MAX(ts) FROM events WHERE profile_id IN ({l}) GROUP BY kind, name, channel"
        ))?;
        let mut rows = stmt.query(params_from_iter(&members))?;
        while let Some(r) = rows.next()? {
            let (kind, name, channel): (String, Option<String>, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            let n = r.get::<_, i64>(3)? as u64;
            counts.total += n;
            *counts.by_type.entry(kind.clone()).or_default() += n;
            *counts.by_channel.entry(channel).or_default() += n;
            if kind == "track" {
                if let Some(name) = name {
                    *counts.by_event.entry(name).or_default() += n;
                }
            }
            let (lo, hi): (i64, i64) = (r.get(4)?, r.get(5)?);
            first = Some(first.map_or(lo, |f| f.min(lo)));
            last = Some(last.map_or(hi, |l| l.max(hi)));
        }
    }

    let history = consent_history(conn, &members)?;
    let consent = current_consent(conn, &members, &history)?;
    let merges = merges_for(conn, &members, 50)?;
    Ok(Some(CustomerView {
        id: ProfileId(root),
        profiles: members.iter().map(|m| ProfileId(*m)).collect(),
        created_at: Timestamp(created_at),
        first_seen: first.map(Timestamp),
        last_seen: last.map(Timestamp),
        identifiers,
        traits,
        consent,
        counts,
        merges,
    }))
}

pub(super) fn event_row(r: &Row) -> rusqlite::Result<TimelineEvent> {
    let consent: Option<String> = r.get(7)?;
    let body: String = r.get(8)?;
    Ok(TimelineEvent {
        id: EventId(r.get(0)?),
        profile_id: ProfileId(r.get(1)?),
        kind: r.get(2)?,
        name: r.get(3)?,
        channel: r.get(4)?,
        timestamp: Timestamp(r.get(5)?),
        received_at: Timestamp(r.get(6)?),
        consent: consent.and_then(|c| serde_json::from_str(&c).ok()),
        message: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    })
}

pub(super) const EVENT_COLUMNS: &str =
    "id, profile_id, kind, name, channel, ts, received_at, consent, body";

pub(super) fn timeline(
    conn: &Connection,
    id: ProfileId,
    before: Option<Cursor>,
    limit: usize,
) -> Result<Option<TimelinePage>, StoreError> {
    let Some((root, members)) = cluster(conn, id)? else {
        return Ok(None);
    };
    let limit = limit.clamp(1, 1000);
    let n = members.len();
    let cursor = before.unwrap_or(Cursor {
        ts: i64::MAX,
        id: i64::MAX,
    });
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE profile_id IN ({}) AND (ts < ?{a} OR (ts = ?{a} AND id < ?{b}))
         ORDER BY ts DESC, id DESC LIMIT ?{c}",
        list(n),
        a = n + 1,
        b = n + 2,
        c = n + 3
    );
    let mut args: Vec<i64> = members.clone();
    args.extend([cursor.ts, cursor.id, limit as i64 + 1]);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut events: Vec<TimelineEvent> = stmt
        .query_map(params_from_iter(&args), event_row)?
        .collect::<Result<_, _>>()?;
    let next_before = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| {
            Cursor {
                ts: e.timestamp.0,
                id: e.id.0,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Some(TimelinePage {
        customer_id: ProfileId(root),
        events,
        next_before,
    }))
}

fn consent_row(r: &Row) -> rusqlite::Result<Option<ConsentRecord>> {
    let purpose = Purpose::parse(&r.get::<_, String>(2)?).ok();
    let channel = ChannelScope::parse(&r.get::<_, String>(3)?).ok();
    let status = ConsentStatus::parse(&r.get::<_, String>(4)?);
    let basis = LegalBasis::parse(&r.get::<_, String>(5)?);
    let (Some(purpose), Some(channel), Some(status), Some(legal_basis)) =
        (purpose, channel, status, basis)
    else {
        return Ok(None);
    };
    let evidence: Evidence = serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default();
    Ok(Some(ConsentRecord {
        id: ConsentId(r.get(0)?),
        profile_id: ProfileId(r.get(1)?),
        purpose,
        channel,
        status,
        legal_basis,
        legal_basis_articles: legal_basis.articles().to_string(),
        notice_version: r.get(6)?,
        evidence,
        effective_at: Timestamp(r.get(8)?),
        expires_at: r.get::<_, Option<i64>>(9)?.map(Timestamp),
        recorded_at: Timestamp(r.get(10)?),
        source: r.get(11)?,
        event_id: r.get::<_, Option<i64>>(12)?.map(EventId),
        supersedes: r.get::<_, Option<i64>>(13)?.map(ConsentId),
    }))
}

fn consent_history(conn: &Connection, members: &[i64]) -> Result<Vec<ConsentRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, profile_id, purpose, channel, status, legal_basis, notice_version, evidence, effective_at, expires_at,
                recorded_at, source, event_id, supersedes_id
         FROM consents WHERE profile_id IN ({}) ORDER BY id",
        list(members.len())
    ))?;
    let rows = stmt.query_map(params_from_iter(members), consent_row)?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(c) = r? {
            out.push(c);
        }
    }
    Ok(out)
}

/// The current state per purpose and channel. Within one profile the latest entry counts. Across
/// merged profiles a merge never widens consent: the most restrictive latest entry wins, unless the
/// person granted again after the merge (a grant recorded after the newest live merge).
fn current_consent(
    conn: &Connection,
    members: &[i64],
    history: &[ConsentRecord],
) -> Result<Vec<ConsentState>, StoreError> {
    let last_merge: i64 = conn.query_row(
        &format!(
            "SELECT COALESCE(MAX(m.created_at), 0) FROM merges m WHERE m.action = 'merge' AND m.absorbed_id IN ({})
             AND NOT EXISTS (SELECT 1 FROM merges u WHERE u.action = 'undo' AND u.related_id = m.id)",
            list(members.len())
        ),
        params_from_iter(members),
        |r| r.get(0),
    )?;
    let mut latest: BTreeMap<(Purpose, ChannelScope), BTreeMap<ProfileId, &ConsentRecord>> =
        BTreeMap::new();
    for c in history {
        latest
            .entry((c.purpose.clone(), c.channel.clone()))
            .or_default()
            .insert(c.profile_id, c);
    }
    let now = now_ms();
    let mut out = Vec::new();
    for ((purpose, channel), per_profile) in latest {
        let newest = per_profile.values().max_by_key(|c| c.id).copied();
        let Some(newest) = newest else { continue };
        let chosen = if newest.status == ConsentStatus::Granted
            && (per_profile.len() == 1 || newest.recorded_at.0 > last_merge)
        {
            newest
        } else {
            per_profile
                .values()
                .filter(|c| c.status != ConsentStatus::Granted)
                .max_by_key(|c| c.id)
                .copied()
                .unwrap_or(newest)
        };
        let mut status = chosen.status;
        if status == ConsentStatus::Granted && chosen.expires_at.is_some_and(|e| e.0 <= now) {
            status = ConsentStatus::Expired;
        }
        out.push(ConsentState {
            purpose,
            channel,
            status,
            legal_basis: chosen.legal_basis,
            since: chosen.effective_at,
            expires_at: chosen.expires_at,
            record_id: chosen.id,
        });
    }
    Ok(out)
}

pub(super) fn consent_ledger(
    conn: &Connection,
    id: ProfileId,
) -> Result<Option<ConsentLedger>, StoreError> {
    let Some((root, members)) = cluster(conn, id)? else {
        return Ok(None);
    };
    let history = consent_history(conn, &members)?;
    let current = current_consent(conn, &members, &history)?;
    Ok(Some(ConsentLedger {
        customer_id: ProfileId(root),
        current,
        history,
    }))
}

const MERGE_COLUMNS: &str =
    "id, action, survivor_id, absorbed_id, members, reason, event_id, created_at, related_id";

fn merge_row(conn: &Connection, r: &Row) -> rusqlite::Result<MergeView> {
    let id: i64 = r.get(0)?;
    let action = match r.get::<_, String>(1)?.as_str() {
        "merge" => MergeAction::Merge,
        "undo" => MergeAction::Undo,
        _ => MergeAction::Refused,
    };
    let members: Vec<ProfileId> = serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default();
    let mut related: Option<i64> = r.get(8)?;
    if action == MergeAction::Merge {
        related = conn
            .prepare_cached("SELECT id FROM merges WHERE action = 'undo' AND related_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
    }
    Ok(MergeView {
        id: MergeId(id),
        action,
        survivor_id: ProfileId(r.get(2)?),
        absorbed_id: ProfileId(r.get(3)?),
        members,
        reason: r.get(5)?,
        event_id: r.get::<_, Option<i64>>(6)?.map(EventId),
        created_at: Timestamp(r.get(7)?),
        related: related.map(MergeId),
    })
}

pub(super) fn merge(conn: &Connection, id: MergeId) -> Result<Option<MergeView>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = ?1"))?;
    let mut rows = stmt.query([id.0])?;
    match rows.next()? {
        Some(r) => Ok(Some(merge_row(conn, r)?)),
        None => Ok(None),
    }
}

fn merges_for(
    conn: &Connection,
    members: &[i64],
    limit: usize,
) -> Result<Vec<MergeView>, StoreError> {
    let n = members.len();
    let sql = format!(
        "SELECT {MERGE_COLUMNS} FROM merges WHERE survivor_id IN ({a}) OR absorbed_id IN ({a}) ORDER BY id DESC LIMIT {limit}",
        a = list(n)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(members))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(merge_row(conn, r)?);
    }
    Ok(out)
}

pub(super) fn export(
    conn: &Connection,
    id: ProfileId,
) -> Result<Option<ExportDocument>, StoreError> {
    let Some(customer) = customer_view(conn, id)? else {
        return Ok(None);
    };
    let members: Vec<i64> = customer.profiles.iter().map(|p| p.0).collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE profile_id IN ({}) ORDER BY ts, id",
        list(members.len())
    ))?;
    let events = stmt
        .query_map(params_from_iter(&members), event_row)?
        .collect::<Result<_, _>>()?;
    let consents = consent_history(conn, &members)?;
    let merge_log = merges_for(conn, &members, usize::MAX >> 1)?;
    let mut conversations = Vec::new();
    let filter = crate::ConversationFilter {
        customer: Some(id),
        limit: usize::MAX >> 1,
        ..Default::default()
    };
    for conversation in super::conversations::conversations(conn, &filter)? {
        let messages =
            super::conversations::messages(conn, conversation.id, None, usize::MAX >> 1)?
                .unwrap_or_default();
        conversations.push(concierge_types::conversation::ConversationExport {
            conversation,
            messages,
        });
    }
    Ok(Some(ExportDocument {
        generated_at: Timestamp(now_ms()),
        customer,
        events,
        consents,
        merge_log,
        conversations,
    }))
}

pub(super) fn key_by_hash(conn: &Connection, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    let row: Option<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT id, name, scope FROM api_keys WHERE secret_hash = ?1 AND revoked_at IS NULL",
        )?
        .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.and_then(|(id, name, scope)| {
        KeyScope::parse(&scope).map(|scope| ApiKey {
            id: KeyId(id),
            name,
            scope,
        })
    }))
}

pub(super) fn erasures(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<concierge_types::view::ErasureRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, customer_id, erased_at, profiles, events, identifiers, consents, suppressed FROM erasures ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(concierge_types::view::ErasureRecord {
            erasure_id: r.get(0)?,
            customer_id: ProfileId(r.get(1)?),
            erased_at: Timestamp(r.get(2)?),
            profiles: r.get::<_, i64>(3)? as u64,
            events: r.get::<_, i64>(4)? as u64,
            identifiers: r.get::<_, i64>(5)? as u64,
            consents: r.get::<_, i64>(6)? as u64,
            suppressed_identifiers: r.get::<_, i64>(7)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn keys(conn: &Connection) -> Result<Vec<crate::KeyInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, scope, prefix, created_at, revoked_at FROM api_keys ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, scope, prefix, created, revoked) = row?;
        let Some(scope) = KeyScope::parse(&scope) else {
            continue;
        };
        out.push(crate::KeyInfo {
            id: KeyId(id),
            name,
            scope,
            prefix,
            created_at: Timestamp(created),
            revoked_at: revoked.map(Timestamp),
        });
    }
    Ok(out)
}

pub(super) fn stats(conn: &Connection) -> Result<StoreStats, StoreError> {
    let count = |sql: &str| -> rusqlite::Result<u64> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    Ok(StoreStats {
        profiles: count("SELECT COUNT(*) FROM profiles")?,
        customers: count("SELECT COUNT(*) FROM profiles WHERE canonical_id = id")?,
        identifiers: count("SELECT COUNT(*) FROM identifiers")?,
        events: count("SELECT COUNT(*) FROM events")?,
        suppressed_identifiers: count("SELECT COUNT(*) FROM suppressions")?,
        suppressed_events_dropped: count(
            "SELECT COALESCE(SUM(dropped_events), 0) FROM suppressions",
        )?,
        pending_events: 0,
    })
}
