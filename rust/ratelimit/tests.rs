use proptest::prelude::*;

use super::*;

const S: u64 = 1_000_000_000;
const MIN: u64 = 60 * S;

fn fixed(limit: u64, interval_ns: u64) -> WindowSpec {
    WindowSpec { limit, interval_ns, kind: WindowKind::Fixed, reserve: 0 }
}

fn rolling(limit: u64, interval_ns: u64) -> WindowSpec {
    WindowSpec { limit, interval_ns, kind: WindowKind::Rolling, reserve: 0 }
}

#[test]
fn binance_spot_quotas() {
    let mut rl = RateLimiter::new();
    let weight = rl.add_quota(Quota::new("weight", vec![fixed(6000, MIN)]).unwrap()).unwrap();
    let orders =
        rl.add_quota(Quota::new("orders", vec![fixed(100, 10 * S), fixed(200_000, 86_400 * S)]).unwrap()).unwrap();
    assert_eq!(rl.quota_id("orders").unwrap(), orders);
    assert!(matches!(rl.quota_id("nope"), Err(CoreError::UnknownName { .. })));
    let t0 = 1_700_000_000 * S; // a multiple of 10 s
    for _ in 0..100 {
        rl.quota_mut(orders).unwrap().try_acquire(1, t0, false).unwrap();
    }
    // the 101st order in the same 10 s bucket waits for the next bucket
    assert_eq!(rl.quota_mut(orders).unwrap().try_acquire(1, t0 + 3 * S, false), Err(t0 + 10 * S));
    assert!(rl.quota_mut(orders).unwrap().try_acquire(1, t0 + 10 * S, false).is_ok());
    // weight: an exchangeInfo (20) fits 300 times a minute
    let w = rl.quota_mut(weight).unwrap();
    for _ in 0..300 {
        w.try_acquire(20, t0, false).unwrap();
    }
    assert_eq!(w.try_acquire(1, t0 + S, false), Err(t0 - t0 % MIN + MIN));
    assert!(rl.add_quota(Quota::new("weight", vec![fixed(1, S)]).unwrap()).is_err());
}

#[test]
fn reserve_lets_cancels_through() {
    let mut q = Quota::new("orders", vec![WindowSpec { reserve: 2, ..rolling(10, S) }]).unwrap();
    for _ in 0..8 {
        q.try_acquire(1, 5, false).unwrap();
    }
    assert_eq!(q.try_acquire(1, 6, false), Err(5 + S));
    assert!(q.try_acquire(1, 6, true).is_ok());
    assert!(q.try_acquire(1, 6, true).is_ok());
    assert_eq!(q.try_acquire(1, 7, true), Err(5 + S));
    assert_eq!(q.max_cost(false), 8);
    assert_eq!(q.try_acquire(9, 7, false), Err(u64::MAX), "can never fit");
}

#[test]
fn block_until_stops_everything() {
    let mut q = Quota::new("w", vec![fixed(100, S)]).unwrap();
    q.block_until(50 * S);
    assert_eq!(q.try_acquire(1, 10 * S, true), Err(50 * S));
    q.block_until(20 * S); // an earlier block does not shorten a longer one
    assert_eq!(q.try_acquire(1, 49 * S, false), Err(50 * S));
    assert!(q.try_acquire(1, 50 * S, false).is_ok());
}

#[test]
fn venue_usage_only_raises_the_count() {
    let mut q = Quota::new("w", vec![fixed(6000, MIN), rolling(50, 10 * S)]).unwrap();
    q.try_acquire(10, MIN, false).unwrap();
    q.observe_usage(MIN, 5990, MIN + 1).unwrap();
    assert_eq!(q.usage(MIN + 1)[0], (MIN, 5990, 6000));
    q.observe_usage(MIN, 3, MIN + 2).unwrap();
    assert_eq!(q.usage(MIN + 2)[0].1, 5990);
    assert!(q.try_acquire(11, MIN + 3, false).is_err());
    q.observe_usage(10 * S, 45, MIN + 4).unwrap();
    assert_eq!(q.usage(MIN + 4)[1].1, 45);
    assert!(q.observe_usage(5, 1, MIN).is_err());
}

#[test]
fn clock_stepping_back_does_not_reopen_a_window() {
    let mut q = Quota::new("w", vec![fixed(1, S)]).unwrap();
    q.try_acquire(1, 10 * S + 1, false).unwrap();
    assert_eq!(q.try_acquire(1, 5 * S, false), Err(11 * S));
}

#[test]
fn invalid_specs() {
    assert!(Quota::new("q", vec![]).is_err());
    assert!(Quota::new("q", vec![fixed(0, S)]).is_err());
    assert!(Quota::new("q", vec![fixed(1, 0)]).is_err());
    assert!(Quota::new("q", vec![WindowSpec { reserve: 1, ..fixed(1, S) }]).is_err());
    assert!(Quota::new("q", vec![rolling(MAX_ROLLING_LIMIT + 1, S)]).is_err());
}

fn window() -> impl Strategy<Value = WindowSpec> {
    (1u64..20, 1u64..50, any::<bool>(), 0u64..5).prop_map(|(limit, iv, roll, r)| WindowSpec {
        limit,
        interval_ns: iv * 10,
        kind: if roll { WindowKind::Rolling } else { WindowKind::Fixed },
        reserve: r.min(limit - 1),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Against a log of every admitted charge: no fixed bucket and no rolling span ever holds more than
    /// the limit (or limit - reserve without priority), and a request retried at its retry time passes.
    #[test]
    fn never_exceeds_and_retry_is_honest(
        specs in prop::collection::vec(window(), 1..3),
        reqs in prop::collection::vec((0u64..6, 0u64..40, prop::bool::weighted(0.2)), 1..120),
    ) {
        let mut q = Quota::new("p", specs.clone()).unwrap();
        let mut admitted: Vec<(u64, u64, bool)> = vec![];
        let mut now = 0u64;
        for (cost, dt, prio) in reqs {
            now += dt;
            match q.try_acquire(cost, now, prio) {
                Ok(()) => admitted.push((now, cost, prio)),
                Err(at) => {
                    prop_assert!(at > now || at == u64::MAX);
                    if at != u64::MAX {
                        let mut probe = q.clone();
                        prop_assert!(probe.try_acquire(cost, at, prio).is_ok(), "retry at {} refused", at);
                        if at > now + 1 {
                            let mut early = q.clone();
                            prop_assert!(early.try_acquire(cost, at - 1, prio).is_err(), "retry time {} not the earliest", at);
                        }
                    }
                }
            }
            for w in &specs {
                let in_window = |t: u64| match w.kind {
                    WindowKind::Fixed => t / w.interval_ns == now / w.interval_ns,
                    WindowKind::Rolling => t + w.interval_ns > now,
                };
                let total: u64 = admitted.iter().filter(|a| in_window(a.0)).map(|a| a.1).sum();
                prop_assert!(total <= w.limit, "window {:?} holds {}", w, total);
                let normal: u64 = admitted.iter().filter(|a| in_window(a.0) && !a.2).map(|a| a.1).sum();
                prop_assert!(normal <= w.limit - w.reserve || admitted.iter().any(|a| in_window(a.0) && a.2));
            }
        }
    }
}
