use super::*;
use crate::outbox::template::example_action;

fn sinks() -> Vec<String> {
    vec!["file".to_owned(), "desk".to_owned()]
}

#[test]
fn appended_actions_stay_pending_per_sink_until_settled_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let action = example_action();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.append(&action, &sinks()).unwrap(), 1);
        assert_eq!(store.append(&action, &sinks()).unwrap(), 2);
        store
            .settle_all("file", &[(1, Settlement::Delivered)])
            .unwrap();
        store
            .remember("desk", "k", "https://desk/tickets/42/")
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let seqs = |sink| -> Vec<u64> {
        let owed = store.next_owed(sink, &HashSet::new(), 1).unwrap();
        assert_eq!(owed.count, store.pending_count(sink).unwrap());
        owed.heads.into_iter().map(|(s, _)| s).collect()
    };
    assert_eq!(seqs("file"), [2]);
    assert_eq!(seqs("desk"), [1]);
    assert_eq!(store.pending_count("desk").unwrap(), 2);
    let owed = store.next_owed("desk", &HashSet::new(), 1).unwrap();
    assert_eq!(owed.heads[0].1, action);
    assert_eq!(
        store.recall("desk", "k").unwrap().as_deref(),
        Some("https://desk/tickets/42/")
    );
    assert_eq!(store.recall("file", "k").unwrap(), None);

    let refused = Settlement::Refused("status 400: bad title".to_owned());
    store.settle_all("desk", &[(1, refused)]).unwrap();
    store
        .settle_all("desk", &[(1, Settlement::Delivered)])
        .unwrap(); // a repeat changes nothing
    assert_eq!(seqs("desk"), [2]);
    assert_eq!(store.pending_count("desk").unwrap(), 1);
    assert_eq!(
        store.undelivered().unwrap(),
        1,
        "action 2, still owed to both"
    );
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    let letters = store.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (
            letters[0].sink.as_str(),
            letters[0].seq,
            letters[0].reason.as_str()
        ),
        ("desk", 1, "status 400: bad title")
    );
    assert_eq!(letters[0].action, action);
    // Action 1 is owed to no sink any more: removed, and its number never reused.
    assert_eq!(store.append(&action, &sinks()).unwrap(), 3);
}

#[test]
fn open_tickets_follow_the_actions_across_reopening() {
    use crate::model::Outcome;
    use crate::tickets::ActionKind;
    let dir = tempfile::tempdir().unwrap();
    let ticket = example_action().ticket;
    let action = |kind, at_ms, n| TicketAction::new(kind, at_ms, ticket.clone(), n);
    let reopened = || Store::open(dir.path()).unwrap().open_tickets().unwrap();
    Store::open(dir.path())
        .unwrap()
        .append(&action(ActionKind::Open, 1_000, 1), &sinks())
        .unwrap();
    let open = reopened();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].actions, open[0].last_action_ms, open[0].confirmed),
        (1, 1_000, false)
    );
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .append(&action(ActionKind::Update, 2_000, 2), &sinks())
            .unwrap();
        store
            .append(&action(ActionKind::Confirm, 3_000, 3), &sinks())
            .unwrap();
    }
    let open = reopened();
    assert_eq!(
        (open[0].actions, open[0].last_action_ms, open[0].confirmed),
        (3, 3_000, true)
    );
    assert_eq!(open[0].ticket, ticket);
    let resolve = ActionKind::Resolve {
        outcome: Outcome::Materialised,
    };
    Store::open(dir.path())
        .unwrap()
        .append(&action(resolve, 4_000, 4), &sinks())
        .unwrap();
    assert!(reopened().is_empty());
}

#[test]
fn a_corrupt_store_is_an_error_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.redb");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let error = Store::open(dir.path())
        .err()
        .expect("a corrupt file is refused");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("outbox {}: ", path.display())),
        "{message}"
    );
}

/// An action of the given ticket, otherwise the example.
fn action_of(fingerprint: &str) -> TicketAction {
    let mut action = example_action();
    action.ticket.fingerprint = fingerprint.to_owned();
    action
}

#[test]
fn settle_all_records_deliveries_and_refusals_of_one_sink_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut action = example_action();
    let mut appended = Vec::new();
    for fingerprint in ["a", "b", "c"] {
        action.ticket.fingerprint = fingerprint.to_owned();
        appended.push(action.clone());
    }
    assert_eq!(store.append_all(&appended, &sinks()).unwrap(), [1, 2, 3]);
    let refused = Settlement::Refused("status 422".to_owned());
    let settled = [
        (1, Settlement::Delivered),
        (3, refused),
        (1, Settlement::Delivered),
    ];
    store.settle_all("desk", &settled).unwrap();
    assert_eq!(
        store.pending_count("desk").unwrap(),
        1,
        "action 2 is still owed"
    );
    let letters = store.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].seq, letters[0].reason.as_str()),
        (3, "status 422")
    );
    assert_eq!(letters[0].action.ticket.fingerprint, "c");
    assert_eq!(
        store.undelivered().unwrap(),
        3,
        "the file sink owes all three"
    );
    let delivered: Vec<(u64, Settlement)> =
        (1..=3).map(|seq| (seq, Settlement::Delivered)).collect();
    store.settle_all("file", &delivered).unwrap();
    assert_eq!(
        store.undelivered().unwrap(),
        1,
        "action 2, still owed to desk"
    );
    // A repeat of a commit that reported an error but was kept: action 3 is gone.
    let refused = Settlement::Refused("status 422".to_owned());
    store.settle_all("desk", &[(3, refused)]).unwrap();
    assert_eq!(store.dead_letters().unwrap().len(), 1);
}

#[test]
fn next_owed_is_the_oldest_action_of_each_idle_ticket_and_stops_at_what_is_wanted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let sinks = ["desk".to_owned()];
    for fingerprint in ["a", "a", "b", "c", "b", "d"] {
        store.append(&action_of(fingerprint), &sinks).unwrap();
    }
    let next = |busy: &[&str], want| {
        let busy = busy.iter().map(|f| (*f).to_owned()).collect();
        let owed = store.next_owed("desk", &busy, want).unwrap();
        let heads: Vec<(u64, String)> = owed
            .heads
            .into_iter()
            .map(|(seq, action)| (seq, action.ticket.fingerprint))
            .collect();
        (heads, owed.count)
    };
    let ticket = |seq, fingerprint: &str| (seq, fingerprint.to_owned());
    assert_eq!(
        next(&[], 10),
        (
            vec![
                ticket(1, "a"),
                ticket(3, "b"),
                ticket(4, "c"),
                ticket(6, "d")
            ],
            6
        ),
        "one per ticket, the oldest, in order"
    );
    assert_eq!(
        next(&["a", "c"], 10),
        (vec![ticket(3, "b"), ticket(6, "d")], 6),
        "a ticket in delivery waits: its later actions are not heads"
    );
    assert_eq!(next(&["a"], 1), (vec![ticket(3, "b")], 6));
    assert_eq!(next(&[], 0), (vec![], 6), "nothing wanted: only the count");
    store
        .settle_all("desk", &[(1, Settlement::Delivered)])
        .unwrap();
    assert_eq!(
        next(&[], 1),
        (vec![ticket(2, "a")], 5),
        "the next of a comes up"
    );
}

#[test]
fn actions_appended_together_are_stored_as_if_one_by_one() {
    let (together, one_by_one) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let actions: Vec<TicketAction> = ["a", "b", "a"].map(action_of).to_vec();
    let at_once = Store::open(together.path()).unwrap();
    assert_eq!(at_once.append_all(&actions, &sinks()).unwrap(), [1, 2, 3]);
    let each = Store::open(one_by_one.path()).unwrap();
    for action in &actions {
        each.append(action, &sinks()).unwrap();
    }
    for store in [&at_once, &each] {
        assert_eq!(store.pending_count("desk").unwrap(), 3);
        assert!(store.append_all(&[], &sinks()).unwrap().is_empty());
    }
    let open = |store: &Store| {
        let mut tickets = store.open_tickets().unwrap();
        tickets.sort_by(|x, y| x.ticket.fingerprint.cmp(&y.ticket.fingerprint));
        tickets
    };
    assert_eq!(open(&at_once), open(&each));
    assert_eq!(at_once.append(&actions[1], &sinks()).unwrap(), 4);
}
