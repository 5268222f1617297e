//! What an agent sees: the store's filter (`ConversationFilter::visible_to`, in SQL) and
//! `AgentView::sees` (for one conversation) must agree on every owner and team.

use super::{SqliteOptions, SqliteStore};
use crate::{AgentView, ConversationFilter, ImportedConversation, ImportedMessage, NewChannel};
use crate::{NewUser, Store};
use concierge_types::conversation::{Author, ChannelKind, Content, ConversationStatus, Owner};
use concierge_types::{EventKind, Identifier, IdentifierKind, NewEvent, Role};
use std::collections::BTreeSet;

#[tokio::test]
async fn the_filter_and_sees_agree_for_every_owner_and_team() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("c.db"))).unwrap();
    let channel = store
        .create_channel(NewChannel {
            kind: ChannelKind::Whatsapp,
            name: "wa".into(),
            config: serde_json::json!({}),
        })
        .await
        .unwrap();
    let ident = Identifier::parse(IdentifierKind::UserId, "u-1", "BR").unwrap();
    store
        .ingest(vec![NewEvent {
            dedup_key: "e1".into(),
            kind: EventKind::Identify,
            name: None,
            channel: "server".into(),
            source: "test".into(),
            ts: 1,
            received_at: 1,
            identifiers: vec![ident.clone()],
            traits: Vec::new(),
            consents: Vec::new(),
            consent_snapshot: None,
            body: "{}".into(),
        }])
        .await
        .unwrap();
    let customer = store.find_customer(&ident).await.unwrap().unwrap();
    let mut users = Vec::new();
    for name in ["ana", "bia", "caio", "dani"] {
        users.push(
            store
                .create_user(NewUser {
                    email: format!("{name}@x.example"),
                    name: name.into(),
                    role: Role::Agent,
                    language: "en".into(),
                    password_hash: "-".into(),
                })
                .await
                .unwrap(),
        );
    }
    let vendas = store
        .save_team("vendas".into(), vec![], vec![], vec![])
        .await
        .unwrap();
    let trocas = store
        .save_team("trocas".into(), vec![], vec![], vec![])
        .await
        .unwrap();
    for (team, user) in [(vendas.id, 0), (vendas.id, 1), (trocas.id, 2)] {
        assert!(store
            .set_team_member(team, users[user].id, Some(3))
            .await
            .unwrap());
    }
    let owners = [
        Owner::Unassigned,
        Owner::Bot,
        Owner::Queue("vendas".into()),
        Owner::Queue("trocas".into()),
        Owner::Queue("nobody's".into()),
        Owner::Agent("ana@x.example".into()),
        Owner::Agent("bia@x.example".into()),
        Owner::Agent("caio@x.example".into()),
        Owner::Agent("dani@x.example".into()),
        Owner::Agent("gone@x.example".into()),
    ];
    let mut n = 0;
    for owner in &owners {
        for team in [None, Some("vendas"), Some("trocas")] {
            n += 1;
            store
                .import_conversation(ImportedConversation {
                    channel_id: channel.id.clone(),
                    thread: format!("thread-{n}"),
                    customer,
                    contact_name: None,
                    status: ConversationStatus::Open,
                    owner: owner.clone(),
                    language: None,
                    team: team.map(String::from),
                    handoff_reason: None,
                    handed_at: None,
                    resolved_at: None,
                    messages: vec![ImportedMessage {
                        author: Author::Customer,
                        author_name: None,
                        private: false,
                        content: Content::Text { text: "oi".into() },
                        at: 1_000 + n,
                        status: None,
                    }],
                })
                .await
                .unwrap();
        }
    }
    let all = store
        .conversations(ConversationFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), owners.len() * 3);
    let teams = store.teams().await.unwrap();
    let mut seen_counts = Vec::new();
    for user in &users {
        // Built as the workspace builds it.
        let mut view = AgentView {
            user_id: user.id,
            email: user.email.clone(),
            teams: Vec::new(),
            teammates: Vec::new(),
        };
        for t in &teams {
            if t.members.iter().any(|m| m.user_id == user.id) {
                view.teammates
                    .extend(t.members.iter().map(|m| m.email.clone()));
                view.teams.push(t.name.clone());
            }
        }
        let by_sql: BTreeSet<i64> = store
            .conversations(ConversationFilter {
                limit: 1000,
                visible_to: Some(view.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        let by_rust: BTreeSet<i64> = all.iter().filter(|c| view.sees(c)).map(|c| c.id).collect();
        assert_eq!(by_sql, by_rust, "{}", user.email);
        seen_counts.push(by_sql.len());
        // The single-conversation check in the write agrees too.
        for c in &all {
            let answer = store
                .change_conversation_as(c.id, view.clone(), crate::ConversationChange::Pending)
                .await
                .unwrap();
            let found = !matches!(answer, crate::AgentChange::NotFound);
            assert_eq!(found, view.sees(c), "{} on {:?}", user.email, c.owner);
        }
    }
    // Ana and Bia (one team) see the same; Caio (another team) less; Dani (no team) least.
    assert_eq!(seen_counts[0], seen_counts[1]);
    assert!(seen_counts[2] < seen_counts[0] && seen_counts[3] < seen_counts[2]);
    store.shutdown();
}
