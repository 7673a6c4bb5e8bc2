use super::*;
use crate::alerts::maintenance::RawWindow;
use vigil_contract::units::Dur;

fn t(secs: u64) -> SystemTime {
    // a whole minute, so cron windows line up
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn sig(id: &str, hold: u64) -> Signal {
    Signal::new(
        "PodCrashLooping",
        Severity::Critical,
        Scope {
            namespace: Some("shop".into()),
            object: format!("Pod/{id}"),
            ..Default::default()
        },
        id,
    )
    .summary("crash")
    .hold(Duration::from_secs(hold))
}

fn kinds(doc: &mut StateDoc) -> Vec<(Kind, String)> {
    doc.outbox
        .drain(..)
        .map(|n| (n.kind, n.signal.scope.object.clone()))
        .collect()
}

fn engine() -> Engine {
    Engine::new(EngineSettings::default())
}

#[test]
fn fires_once_after_for_and_resolves_once() {
    let (mut e, mut doc, none) = (engine(), StateDoc::default(), BTreeMap::new());
    e.evaluate(&mut doc, t(0), vec![sig("a", 10)], &none);
    e.evaluate(&mut doc, t(5), vec![sig("a", 10)], &none);
    assert!(doc.outbox.is_empty(), "nothing before `for` has passed");
    e.evaluate(&mut doc, t(10), vec![sig("a", 10)], &none);
    e.evaluate(&mut doc, t(11), vec![sig("a", 10)], &none);
    assert_eq!(kinds(&mut doc), vec![(Kind::Firing, "Pod/a".into())]);
    e.evaluate(&mut doc, t(20), vec![], &none);
    e.evaluate(&mut doc, t(21), vec![], &none);
    assert_eq!(kinds(&mut doc), vec![(Kind::Resolved, "Pod/a".into())]);
}

#[test]
fn a_blip_shorter_than_for_fires_nothing() {
    let (mut e, mut doc, none) = (engine(), StateDoc::default(), BTreeMap::new());
    e.evaluate(&mut doc, t(0), vec![sig("a", 10)], &none);
    e.evaluate(&mut doc, t(9), vec![], &none);
    e.evaluate(&mut doc, t(12), vec![sig("a", 10)], &none);
    e.evaluate(&mut doc, t(20), vec![], &none);
    assert!(doc.outbox.is_empty());
    assert!(doc.pending.is_empty());
}

#[test]
fn children_of_a_firing_parent_are_folded_into_its_thread() {
    let (mut e, mut doc, none) = (engine(), StateDoc::default(), BTreeMap::new());
    let node = sig("node", 0);
    let pods: Vec<Signal> = (0..5)
        .map(|i| sig(&format!("p{i}"), 0).parent(node.fingerprint.clone()))
        .collect();
    let mut all = pods.clone();
    all.push(node.clone());
    e.evaluate(&mut doc, t(0), all, &none);
    let out: Vec<Notification> = doc.outbox.drain(..).collect();
    let firing: Vec<_> = out.iter().filter(|n| n.kind == Kind::Firing).collect();
    assert_eq!(firing.len(), 1, "one incident: {out:?}");
    let parent = &firing[0].incident;
    assert!(
        out.iter()
            .filter(|n| n.kind == Kind::Folded)
            .all(|n| &n.thread == parent)
    );
    assert_eq!(out.len(), 6);
}

#[test]
fn a_flapping_incident_stays_one_incident() {
    let settings = EngineSettings {
        flap_threshold: 2,
        flap_quiet: Duration::from_secs(30),
        ..Default::default()
    };
    let (mut e, mut doc, none) = (Engine::new(settings), StateDoc::default(), BTreeMap::new());
    for i in 0..6 {
        e.evaluate(&mut doc, t(i * 4), vec![sig("a", 0)], &none);
        e.evaluate(&mut doc, t(i * 4 + 2), vec![], &none);
    }
    let k: Vec<Kind> = kinds(&mut doc).into_iter().map(|x| x.0).collect();
    assert_eq!(
        k,
        vec![
            Kind::Firing,
            Kind::Resolved,
            Kind::Firing,
            Kind::Resolved,
            Kind::Firing,
            Kind::Flapping
        ]
    );
    e.evaluate(&mut doc, t(100), vec![], &none);
    assert_eq!(kinds(&mut doc), vec![(Kind::Resolved, "Pod/a".into())]);
}

#[test]
fn repeats_after_the_interval() {
    let settings = EngineSettings {
        repeat_interval: Duration::from_secs(60),
        ..Default::default()
    };
    let (mut e, mut doc, none) = (Engine::new(settings), StateDoc::default(), BTreeMap::new());
    for s in [0, 30, 61, 90, 122] {
        e.evaluate(&mut doc, t(s), vec![sig("a", 0)], &none);
    }
    // nothing was delivered in between: the second reminder replaced the first
    let newest = doc.outbox.back().map(|n| n.at_ms);
    let k: Vec<Kind> = kinds(&mut doc).into_iter().map(|x| x.0).collect();
    assert_eq!(k, vec![Kind::Firing, Kind::Repeat]);
    assert_eq!(newest, Some(unix_ms(t(122))));
}

#[test]
fn maintenance_silences_and_summarises() {
    let settings = EngineSettings {
        windows: vec![
            Window::new(RawWindow {
                name: "nightly".into(),
                cron: "0 * * * * *".into(),
                duration: Dur(Duration::from_secs(20)),
                tenants: vec![],
                namespaces: vec!["shop".into()],
                devices: vec![],
                rules: vec![],
            })
            .unwrap(),
        ],
        ..Default::default()
    };
    let (mut e, mut doc, none) = (Engine::new(settings), StateDoc::default(), BTreeMap::new());
    e.evaluate(&mut doc, t(1), vec![sig("a", 0), sig("b", 0)], &none);
    e.evaluate(&mut doc, t(5), vec![sig("b", 0)], &none);
    assert!(doc.outbox.is_empty(), "{:?}", doc.outbox);
    e.evaluate(&mut doc, t(21), vec![sig("b", 0)], &none);
    let out: Vec<Notification> = doc.outbox.drain(..).collect();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].kind, Kind::Firing, "still firing after the window");
    assert_eq!(out[1].kind, Kind::Maintenance);
    assert_eq!(out[1].lines.len(), 3, "{:?}", out[1].lines);
}

#[test]
fn a_restart_with_persisted_state_does_not_fire_again() {
    let (mut e, mut doc, none) = (engine(), StateDoc::default(), BTreeMap::new());
    e.evaluate(&mut doc, t(0), vec![sig("a", 0)], &none);
    doc.outbox.clear();
    let text = serde_json::to_string(&doc).unwrap();
    let mut doc: StateDoc = serde_json::from_str(&text).unwrap();
    let mut e = engine();
    e.evaluate(&mut doc, t(5), vec![sig("a", 0)], &none);
    assert!(doc.outbox.is_empty());
    e.evaluate(&mut doc, t(6), vec![], &none);
    assert_eq!(kinds(&mut doc), vec![(Kind::Resolved, "Pod/a".into())]);
}

#[test]
fn a_child_waits_for_a_pending_parent_and_folds_into_it() {
    let (mut e, mut doc, none) = (engine(), StateDoc::default(), BTreeMap::new());
    let node = sig("node", 10);
    let taint = sig("taint", 0).parent(node.fingerprint.clone());
    e.evaluate(&mut doc, t(0), vec![node.clone(), taint.clone()], &none);
    assert!(
        doc.outbox.is_empty(),
        "the child waits while its parent is pending"
    );
    e.evaluate(&mut doc, t(10), vec![node, taint], &none);
    let k: Vec<Kind> = kinds(&mut doc).into_iter().map(|x| x.0).collect();
    assert_eq!(k, vec![Kind::Firing, Kind::Folded]);
}

#[test]
fn a_crash_loop_does_not_wait_for_its_pending_workload() {
    let (mut e, mut doc, none) = (engine(), StateDoc::default(), BTreeMap::new());
    let mut workload = sig("deploy", 300);
    workload.rule = crate::alerts::rules::WORKLOAD_UNAVAILABLE.into();
    let pod = sig("pod", 60).parent(workload.fingerprint.clone());
    e.evaluate(&mut doc, t(0), vec![workload.clone(), pod.clone()], &none);
    e.evaluate(&mut doc, t(60), vec![workload.clone(), pod.clone()], &none);
    let k: Vec<(Kind, String)> = kinds(&mut doc);
    assert_eq!(
        k,
        vec![(Kind::Firing, "Pod/pod".into())],
        "the crash loop is posted after its own `for`, not the workload's"
    );
}

#[test]
fn the_digest_lists_resolved_and_open_incidents_per_tenant() {
    let settings = EngineSettings {
        digest: Some(vigil_contract::Schedule::parse("0 * * * *").unwrap()), // hourly
        ..Default::default()
    };
    let (mut e, mut doc, none) = (Engine::new(settings), StateDoc::default(), BTreeMap::new());
    let mut acme = sig("a", 0);
    acme.scope.tenant = Some("acme".into());
    e.evaluate(&mut doc, t(0), vec![acme.clone(), sig("b", 0)], &none);
    e.evaluate(&mut doc, t(100), vec![sig("b", 0)], &none);
    doc.outbox.clear();
    e.evaluate(&mut doc, t(3599), vec![sig("b", 0)], &none);
    assert!(doc.outbox.is_empty(), "not before the schedule");
    e.evaluate(&mut doc, t(3601), vec![sig("b", 0)], &none);
    let out: Vec<Notification> = doc.outbox.drain(..).collect();
    assert_eq!(out.len(), 2, "one digest per tenant: {out:?}");
    assert!(out.iter().all(|n| n.kind == Kind::Digest));
    let acme_digest = out
        .iter()
        .find(|n| n.signal.scope.tenant.as_deref() == Some("acme"))
        .unwrap();
    assert!(
        acme_digest.lines[0].contains("Pod/a") && acme_digest.lines[0].contains("resolved after")
    );
    let ops = out
        .iter()
        .find(|n| n.signal.scope.tenant.is_none())
        .unwrap();
    assert!(ops.lines[0].starts_with("still firing") && ops.lines[0].contains("Pod/b"));
}
