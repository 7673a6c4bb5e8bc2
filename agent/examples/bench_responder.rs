//! A fast SNMP v2c responder for benchmarks: every community is a device with the same
//! system group and an IF-MIB of `--interfaces` interfaces (ifTable + ifXTable, 64-bit
//! counters). It answers GET, GETNEXT and GETBULK on one loopback UDP port, so the
//! benchmark measures the pollers, not a slow simulator.
//!
//! `cargo run --release -p vigil-agent --example bench_responder -- 127.0.0.1:30161 48`
use std::net::UdpSocket;

use snmp2::{MessageType, Pdu};

#[derive(Clone)]
enum Val {
    Int(i64),
    Str(Vec<u8>),
    Oid(Vec<u32>),
    Counter32(u32),
    Gauge32(u32),
    Ticks(u32),
    Counter64(u64),
}

fn len(out: &mut Vec<u8>, n: usize) {
    if n < 128 {
        out.push(n as u8);
    } else {
        let b = n.to_be_bytes();
        let skip = b.iter().take_while(|&&x| x == 0).count();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend(&b[skip..]);
    }
}

fn tlv(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    len(out, body.len());
    out.extend(body);
}

fn int_body(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    b[i..].to_vec()
}

fn uint_body(v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(7);
    let mut out = Vec::new();
    if b[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend(&b[skip..]);
    out
}

fn oid_body(oid: &[u32]) -> Vec<u8> {
    let mut out = vec![(oid[0] * 40 + oid[1]) as u8];
    for &a in &oid[2..] {
        let mut tmp = vec![(a & 0x7f) as u8];
        let mut v = a >> 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        out.extend(tmp);
    }
    out
}

fn value(out: &mut Vec<u8>, v: &Val) {
    match v {
        Val::Int(i) => tlv(out, 0x02, &int_body(*i)),
        Val::Str(s) => tlv(out, 0x04, s),
        Val::Oid(o) => tlv(out, 0x06, &oid_body(o)),
        Val::Counter32(c) => tlv(out, 0x41, &uint_body(u64::from(*c))),
        Val::Gauge32(g) => tlv(out, 0x42, &uint_body(u64::from(*g))),
        Val::Ticks(t) => tlv(out, 0x43, &uint_body(u64::from(*t))),
        Val::Counter64(c) => tlv(out, 0x46, &uint_body(*c)),
    }
}

fn mib(interfaces: u32) -> Vec<(Vec<u32>, Val)> {
    let mut m: Vec<(Vec<u32>, Val)> = vec![
        (
            vec![1, 3, 6, 1, 2, 1, 1, 1, 0],
            Val::Str(b"vigil bench switch, 48-port".to_vec()),
        ),
        (
            vec![1, 3, 6, 1, 2, 1, 1, 2, 0],
            Val::Oid(vec![1, 3, 6, 1, 4, 1, 9, 1, 1208]),
        ),
        (vec![1, 3, 6, 1, 2, 1, 1, 3, 0], Val::Ticks(123_456_789)),
        (
            vec![1, 3, 6, 1, 2, 1, 1, 5, 0],
            Val::Str(b"bench-sw".to_vec()),
        ),
    ];
    let t = |col: u32, i: u32| vec![1, 3, 6, 1, 2, 1, 2, 2, 1, col, i];
    let x = |col: u32, i: u32| vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, col, i];
    for i in 1..=interfaces {
        let big = 5_000_000_000u64 + u64::from(i) * 1_000_003;
        m.push((t(1, i), Val::Int(i64::from(i))));
        m.push((
            t(2, i),
            Val::Str(format!("GigabitEthernet1/0/{i}").into_bytes()),
        ));
        m.push((t(3, i), Val::Int(6)));
        m.push((t(4, i), Val::Int(1500)));
        m.push((t(5, i), Val::Gauge32(1_000_000_000)));
        m.push((t(6, i), Val::Str(vec![0, 0x1b, 0x54, 0, 0, i as u8])));
        m.push((t(7, i), Val::Int(1)));
        m.push((t(8, i), Val::Int(if i % 5 == 0 { 2 } else { 1 })));
        m.push((t(10, i), Val::Counter32(big as u32)));
        m.push((t(13, i), Val::Counter32(i)));
        m.push((t(14, i), Val::Counter32(i * 2)));
        m.push((t(16, i), Val::Counter32((big / 3) as u32)));
        m.push((t(19, i), Val::Counter32(i * 3)));
        m.push((t(20, i), Val::Counter32(i * 4)));
        m.push((x(1, i), Val::Str(format!("Gi1/0/{i}").into_bytes())));
        m.push((x(6, i), Val::Counter64(big)));
        m.push((x(10, i), Val::Counter64(big / 3)));
        m.push((x(15, i), Val::Gauge32(1000)));
        m.push((
            x(18, i),
            Val::Str(format!("uplink {i} to core").into_bytes()),
        ));
    }
    m.sort_by(|a, b| a.0.cmp(&b.0));
    m
}

fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:30161".into());
    let interfaces: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(48);
    let mib = mib(interfaces);
    let sock = UdpSocket::bind(&listen).expect("bind");
    eprintln!(
        "bench responder on {listen}: {} objects per device",
        mib.len()
    );
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(pdu) = Pdu::from_bytes(&buf[..n]) else {
            continue;
        };
        let next = |oid: &[u32]| mib.partition_point(|(o, _)| o.as_slice() <= oid);
        let exact = |oid: &[u32]| mib.binary_search_by(|(o, _)| o.as_slice().cmp(oid)).ok();
        let req: Vec<Vec<u32>> = pdu
            .varbinds
            .clone()
            .filter_map(|(o, _)| o.iter().map(|it| it.map(|a| a as u32).collect()))
            .collect();
        let mut vbs: Vec<(Vec<u32>, Option<&Val>)> = Vec::new();
        match pdu.message_type {
            MessageType::GetRequest => {
                for o in &req {
                    vbs.push((o.clone(), exact(o).map(|i| &mib[i].1)));
                }
            }
            MessageType::GetNextRequest => {
                for o in &req {
                    let i = next(o);
                    vbs.push(
                        mib.get(i)
                            .map_or((o.clone(), None), |(k, v)| (k.clone(), Some(v))),
                    );
                }
            }
            MessageType::GetBulkRequest => {
                let reps = pdu.error_index.max(1) as usize;
                let mut cur = req.clone();
                'outer: for _ in 0..reps {
                    for c in cur.iter_mut() {
                        let i = next(c);
                        match mib.get(i) {
                            Some((k, v)) => {
                                *c = k.clone();
                                vbs.push((k.clone(), Some(v)));
                            }
                            None => vbs.push((c.clone(), None)),
                        }
                        if vbs.len() > 2000 {
                            break 'outer;
                        }
                    }
                }
            }
            _ => continue,
        }
        let mut list = Vec::new();
        for (oid, v) in &vbs {
            let mut vb = Vec::new();
            tlv(&mut vb, 0x06, &oid_body(oid));
            match v {
                Some(v) => value(&mut vb, v),
                // noSuchInstance for GET, endOfMibView for walks
                None if pdu.message_type == MessageType::GetRequest => vb.extend([0x81, 0]),
                None => vb.extend([0x82, 0]),
            }
            tlv(&mut list, 0x30, &vb);
        }
        let mut body = Vec::new();
        tlv(&mut body, 0x02, &int_body(i64::from(pdu.req_id)));
        tlv(&mut body, 0x02, &[0]);
        tlv(&mut body, 0x02, &[0]);
        tlv(&mut body, 0x30, &list);
        let mut msg = Vec::new();
        tlv(&mut msg, 0x02, &[1]);
        tlv(&mut msg, 0x04, pdu.community);
        tlv(&mut msg, 0xa2, &body);
        let mut out = Vec::new();
        tlv(&mut out, 0x30, &msg);
        let _ = sock.send_to(&out, peer);
    }
}
