use crate::rules::Rules;
use concierge_types::{Identifier, IdentifierKind, ProfileId};
use std::collections::{BTreeMap, BTreeSet};

/// Who holds an identifier: the profile it belongs to and the root of that profile's cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub profile: ProfileId,
    pub root: ProfileId,
}

/// The read side of the identity graph a store offers the planner, inside its write transaction.
pub trait Graph {
    type Error;
    fn owner(&mut self, id: &Identifier) -> Result<Option<Owner>, Self::Error>;
    /// Every identifier held by the cluster rooted at `root`.
    fn cluster_identifiers(&mut self, root: ProfileId) -> Result<Vec<Identifier>, Self::Error>;
    /// Whether an admin undid a merge between these two clusters, which must not happen again.
    fn merge_blocked(&mut self, a: ProfileId, b: ProfileId) -> Result<bool, Self::Error>;
}

/// Which profile an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An existing profile (the owner of the event's strongest known identifier).
    Existing(ProfileId),
    /// Nobody we know: create a profile.
    New,
}

/// A merge that a rule stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The cluster that was kept apart.
    pub root: ProfileId,
    /// The cluster it would have joined, if one existed already.
    pub other: Option<ProfileId>,
    pub reason: String,
}

/// What to do with one event's identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: Target,
    /// The cluster that survives the merges below (the oldest); `None` when nothing is merged.
    pub survivor: Option<ProfileId>,
    /// Cluster roots to merge into `survivor`, each with the identifier kind that linked it.
    pub absorb: Vec<(ProfileId, IdentifierKind)>,
    /// Identifiers nobody holds yet, to attach to the target profile.
    pub attach: Vec<Identifier>,
    /// Known identifiers of the joined clusters this event carried (their "last seen" moves on).
    pub seen: Vec<Identifier>,
    pub refused: Vec<Refusal>,
    /// Identifiers left out, with why (blocked, limit, conflict).
    pub ignored: Vec<(Identifier, String)>,
}

/// Values held per kind by the clusters folded so far.
type KindValues = BTreeMap<IdentifierKind, BTreeSet<String>>;

/// Decides how an event with `identifiers` joins the graph.
///
/// Identifiers are taken strongest first ([`IdentifierKind::priority`]). The first one somebody holds
/// anchors the event; each further cluster the event touches is merged in unless that would give the
/// customer two values of a unique kind or more identifiers of a kind than its limit, in which case
/// the merge is refused and recorded. New identifiers are attached under the same two rules.
pub fn plan<G: Graph>(
    graph: &mut G,
    identifiers: &[Identifier],
    rules: &Rules,
) -> Result<Plan, G::Error> {
    let mut ids: Vec<&Identifier> = identifiers.iter().collect();
    ids.sort_by(|a, b| {
        a.kind
            .priority()
            .cmp(&b.kind.priority())
            .then_with(|| a.value.cmp(&b.value))
    });
    ids.dedup();

    let mut plan = Plan {
        target: Target::New,
        survivor: None,
        absorb: Vec::new(),
        attach: Vec::new(),
        seen: Vec::new(),
        refused: Vec::new(),
        ignored: Vec::new(),
    };
    let mut folded: Vec<ProfileId> = Vec::new();
    // Values held by the folded clusters, loaded only when a rule needs them: an event whose
    // identifiers are all known and in one cluster (the common case) costs no query.
    let mut held: Option<KindValues> = None;
    let mut anchor_profile: Option<ProfileId> = None;

    for id in ids {
        if rules.is_blocked(id) {
            plan.ignored.push((id.clone(), "blocked value".into()));
            continue;
        }
        match graph.owner(id)? {
            Some(owner) if folded.contains(&owner.root) => {
                plan.seen.push(id.clone());
                anchor_profile.get_or_insert(owner.profile);
            }
            Some(owner) => {
                if folded.is_empty() && plan.attach.is_empty() && held.is_none() {
                    folded.push(owner.root);
                    plan.seen.push(id.clone());
                    anchor_profile.get_or_insert(owner.profile);
                    continue;
                }
                let mut blocked = false;
                for f in &folded {
                    blocked |= graph.merge_blocked(*f, owner.root)?;
                }
                if blocked {
                    plan.refused.push(Refusal {
                        root: owner.root,
                        other: folded.first().copied(),
                        reason: "merge was undone by an admin".into(),
                    });
                    continue;
                }
                let current = load_held(graph, &mut held, &folded, &plan.attach)?;
                let theirs = graph.cluster_identifiers(owner.root)?;
                if let Err(reason) = compatible(current, &theirs, rules) {
                    plan.refused.push(Refusal {
                        root: owner.root,
                        other: folded.first().copied(),
                        reason,
                    });
                    continue;
                }
                add_all(current, &theirs);
                if !folded.is_empty() {
                    plan.absorb.push((owner.root, id.kind));
                }
                folded.push(owner.root);
                plan.seen.push(id.clone());
                anchor_profile.get_or_insert(owner.profile);
            }
            None => {
                let current = load_held(graph, &mut held, &folded, &plan.attach)?;
                let values = current.entry(id.kind).or_default();
                if rules.is_unique(id.kind) && !values.is_empty() && !values.contains(&id.value) {
                    plan.ignored.push((
                        id.clone(),
                        format!("customer already has another {}", id.kind),
                    ));
                } else if values.len() >= rules.limit(id.kind) {
                    plan.ignored.push((
                        id.clone(),
                        format!("limit of {} {} identifiers", rules.limit(id.kind), id.kind),
                    ));
                } else {
                    values.insert(id.value.clone());
                    plan.attach.push(id.clone());
                }
            }
        }
    }

    // The oldest cluster survives; every other folded cluster is absorbed into it.
    if let Some(&oldest) = folded.iter().min() {
        plan.survivor = Some(oldest);
        let first_kind = plan
            .absorb
            .first()
            .map(|a| a.1)
            .unwrap_or(IdentifierKind::AnonymousId);
        let mut absorb: Vec<(ProfileId, IdentifierKind)> = Vec::new();
        for root in folded.iter().filter(|r| **r != oldest) {
            let kind = plan
                .absorb
                .iter()
                .find(|a| a.0 == *root)
                .map(|a| a.1)
                .unwrap_or(first_kind);
            absorb.push((*root, kind));
        }
        plan.absorb = absorb;
        if plan.absorb.is_empty() {
            plan.survivor = None;
        }
    }
    plan.target = anchor_profile.map(Target::Existing).unwrap_or(Target::New);
    Ok(plan)
}

/// The values held so far, reading the folded clusters' identifiers on first use.
fn load_held<'h, G: Graph>(
    graph: &mut G,
    held: &'h mut Option<KindValues>,
    folded: &[ProfileId],
    attached: &[Identifier],
) -> Result<&'h mut KindValues, G::Error> {
    if held.is_none() {
        let mut values = KindValues::new();
        for root in folded {
            add_all(&mut values, &graph.cluster_identifiers(*root)?);
        }
        add_all(&mut values, attached);
        *held = Some(values);
    }
    Ok(held.get_or_insert_with(KindValues::new))
}

fn add_all(held: &mut KindValues, ids: &[Identifier]) {
    for i in ids {
        held.entry(i.kind).or_default().insert(i.value.clone());
    }
}

/// Whether a cluster holding `theirs` may join one holding `held`.
fn compatible(held: &KindValues, theirs: &[Identifier], rules: &Rules) -> Result<(), String> {
    let mut union = held.clone();
    add_all(&mut union, theirs);
    for (kind, values) in &union {
        if rules.is_unique(*kind) && values.len() > 1 {
            return Err(format!("conflicting {kind}"));
        }
        if values.len() > rules.limit(*kind) && values.len() > held.get(kind).map_or(0, |v| v.len())
        {
            return Err(format!(
                "more than {} {kind} identifiers",
                rules.limit(*kind)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An in-memory graph to exercise the planner.
    #[derive(Default)]
    struct MemGraph {
        owners: HashMap<Identifier, ProfileId>,
        root: HashMap<ProfileId, ProfileId>,
        blocks: Vec<(ProfileId, ProfileId)>,
    }

    impl MemGraph {
        fn add(&mut self, profile: i64, ids: &[Identifier]) {
            self.root.insert(ProfileId(profile), ProfileId(profile));
            for i in ids {
                self.owners.insert(i.clone(), ProfileId(profile));
            }
        }
    }

    impl Graph for MemGraph {
        type Error = ();
        fn owner(&mut self, id: &Identifier) -> Result<Option<Owner>, ()> {
            Ok(self.owners.get(id).map(|p| Owner {
                profile: *p,
                root: self.root[p],
            }))
        }
        fn cluster_identifiers(&mut self, root: ProfileId) -> Result<Vec<Identifier>, ()> {
            Ok(self
                .owners
                .iter()
                .filter(|(_, p)| self.root[p] == root)
                .map(|(i, _)| i.clone())
                .collect())
        }
        fn merge_blocked(&mut self, a: ProfileId, b: ProfileId) -> Result<bool, ()> {
            Ok(self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a)))
        }
    }

    fn id(kind: IdentifierKind, v: &str) -> Identifier {
        Identifier::from_stored(kind, v.to_string())
    }
    use IdentifierKind::*;

    #[test]
    fn unknown_identifiers_make_a_new_profile() {
        let mut g = MemGraph::default();
        let p = plan(
            &mut g,
            &[id(UserId, "u1"), id(Email, "a@x.com")],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach.len(), 2);
        assert!(p.absorb.is_empty());
    }

    #[test]
    fn login_after_anonymous_browsing_attaches_without_merge() {
        let mut g = MemGraph::default();
        g.add(1, &[id(AnonymousId, "a1")]);
        let p = plan(
            &mut g,
            &[id(UserId, "u1"), id(AnonymousId, "a1")],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.target, Target::Existing(ProfileId(1)));
        assert_eq!(p.attach, vec![id(UserId, "u1")]);
        assert!(p.absorb.is_empty());
    }

    #[test]
    fn shared_email_merges_into_the_oldest() {
        let mut g = MemGraph::default();
        g.add(1, &[id(AnonymousId, "a1"), id(Email, "ana@x.com")]);
        g.add(2, &[id(UserId, "u1")]);
        let p = plan(
            &mut g,
            &[id(UserId, "u1"), id(Email, "ana@x.com")],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.target, Target::Existing(ProfileId(2)));
        assert_eq!(p.survivor, Some(ProfileId(1)));
        assert_eq!(p.absorb, vec![(ProfileId(2), Email)]);
    }

    #[test]
    fn conflicting_user_ids_are_never_merged() {
        let mut g = MemGraph::default();
        g.add(1, &[id(UserId, "u1"), id(Email, "family@x.com")]);
        let p = plan(
            &mut g,
            &[id(UserId, "u2"), id(Email, "family@x.com")],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach, vec![id(UserId, "u2")]);
        assert_eq!(p.refused.len(), 1);
        assert_eq!(p.refused[0].root, ProfileId(1));
        assert!(p.refused[0].reason.contains("user_id"));
    }

    #[test]
    fn shared_device_with_another_user_is_not_merged() {
        let mut g = MemGraph::default();
        g.add(1, &[id(UserId, "u1"), id(AnonymousId, "tablet")]);
        g.add(2, &[id(UserId, "u2")]);
        let p = plan(
            &mut g,
            &[id(UserId, "u2"), id(AnonymousId, "tablet")],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.target, Target::Existing(ProfileId(2)));
        assert!(p.absorb.is_empty());
        assert_eq!(p.refused.len(), 1);
    }

    #[test]
    fn blocked_values_link_nobody() {
        let mut g = MemGraph::default();
        g.add(1, &[id(UserId, "u1"), id(Email, "test@test.com")]);
        let p = plan(
            &mut g,
            &[id(UserId, "u2"), id(Email, "test@test.com")],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.target, Target::New);
        assert!(p.refused.is_empty());
        assert_eq!(p.ignored.len(), 1);
    }

    #[test]
    fn identifier_limit_stops_attach_and_merge() {
        let mut rules = Rules::default();
        rules.max_per_kind.insert(Email, 2);
        let mut g = MemGraph::default();
        g.add(
            1,
            &[id(UserId, "u1"), id(Email, "a@x.com"), id(Email, "b@x.com")],
        );
        let p = plan(&mut g, &[id(UserId, "u1"), id(Email, "c@x.com")], &rules).unwrap();
        assert!(p.attach.is_empty());
        assert_eq!(p.ignored.len(), 1);
        g.add(2, &[id(Email, "d@x.com")]);
        let p = plan(&mut g, &[id(UserId, "u1"), id(Email, "d@x.com")], &rules).unwrap();
        assert!(p.absorb.is_empty());
        assert_eq!(p.refused.len(), 1);
    }

    #[test]
    fn undone_merges_stay_apart() {
        let mut g = MemGraph::default();
        g.add(1, &[id(Email, "ana@x.com")]);
        g.add(2, &[id(UserId, "u1")]);
        g.blocks.push((ProfileId(1), ProfileId(2)));
        let p = plan(
            &mut g,
            &[id(UserId, "u1"), id(Email, "ana@x.com")],
            &Rules::default(),
        )
        .unwrap();
        assert!(p.absorb.is_empty());
        assert_eq!(p.refused[0].reason, "merge was undone by an admin");
    }

    #[test]
    fn repeated_identifiers_are_attached_once() {
        let mut g = MemGraph::default();
        let p = plan(
            &mut g,
            &[
                id(Email, "a@x.com"),
                id(Email, "b@x.com"),
                id(Email, "a@x.com"),
            ],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.attach.len(), 2);
    }

    #[test]
    fn three_clusters_fold_into_the_oldest() {
        let mut g = MemGraph::default();
        g.add(5, &[id(AnonymousId, "phone")]);
        g.add(3, &[id(AnonymousId, "laptop")]);
        g.add(9, &[id(UserId, "u1")]);
        let p = plan(
            &mut g,
            &[
                id(UserId, "u1"),
                id(AnonymousId, "phone"),
                id(AnonymousId, "laptop"),
            ],
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(p.survivor, Some(ProfileId(3)));
        let mut absorbed: Vec<_> = p.absorb.iter().map(|a| a.0 .0).collect();
        absorbed.sort();
        assert_eq!(absorbed, vec![5, 9]);
        assert_eq!(p.target, Target::Existing(ProfileId(9)));
    }
}
