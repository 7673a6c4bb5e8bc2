//! SNMP agents: net-snmp's snmpd (v2c and v3 authPriv) and snmpsim's recordings of real devices.

use std::net::SocketAddr;
use std::time::Duration;

use snmp2::v3::{Auth, AuthProtocol, Cipher, Security};
use snmp2::{AsyncSession, Oid, Value};
use vigil_tests::require_sandbox;

const SYS_NAME: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
const IF_DESCR: &[u64] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
const TIMEOUT: Duration = Duration::from_secs(3);

fn oid(parts: &[u64]) -> Oid<'static> {
    Oid::from(parts).expect("a valid OID")
}

async fn sys_name(session: &mut AsyncSession) -> String {
    let mut pdu = tokio::time::timeout(TIMEOUT, session.get(&oid(SYS_NAME)))
        .await
        .expect("an answer before the timeout")
        .expect("a GET response");
    match pdu.varbinds.next() {
        Some((_, Value::OctetString(name))) => String::from_utf8_lossy(name).into_owned(),
        other => panic!("sysName.0 is not a string: {other:?}"),
    }
}

#[tokio::test]
async fn snmpd_answers_v2c() {
    let sandbox = require_sandbox!();
    let mut session = AsyncSession::new_v2c(sandbox.snmpd, sandbox.snmp_community.as_bytes(), 1)
        .await
        .expect("a v2c session");
    assert_eq!(sys_name(&mut session).await, "vigil-sandbox-snmpd");
}

async fn v3_session(
    addr: SocketAddr,
    user: &str,
    auth: AuthProtocol,
    cipher: Cipher,
    auth_pass: &str,
    priv_pass: &str,
) -> Result<AsyncSession, snmp2::Error> {
    let security = Security::new(user.as_bytes(), auth_pass.as_bytes())
        .with_auth_protocol(auth)
        .with_auth(Auth::AuthPriv {
            cipher,
            privacy_password: priv_pass.as_bytes().to_vec(),
        });
    let mut session = AsyncSession::new_v3(addr, 1, security)
        .await
        .expect("a v3 session");
    tokio::time::timeout(TIMEOUT, session.init())
        .await
        .expect("engine discovery before the timeout")?;
    Ok(session)
}

#[tokio::test]
async fn snmpd_answers_v3_auth_priv() {
    let sandbox = require_sandbox!();
    for (user, auth, cipher) in [
        (&sandbox.snmpv3_user, AuthProtocol::Sha1, Cipher::Aes128),
        (
            &sandbox.snmpv3_user_256,
            AuthProtocol::Sha256,
            Cipher::Aes256,
        ),
    ] {
        let mut session = v3_session(
            sandbox.snmpd,
            user,
            auth,
            cipher,
            &sandbox.snmpv3_auth_pass,
            &sandbox.snmpv3_priv_pass,
        )
        .await
        .unwrap_or_else(|e| panic!("v3 user {user}: {e:?}"));
        assert_eq!(
            sys_name(&mut session).await,
            "vigil-sandbox-snmpd",
            "user {user}"
        );
    }
}

#[tokio::test]
async fn snmpd_rejects_a_wrong_v3_password() {
    let sandbox = require_sandbox!();
    let result = async {
        let mut session = v3_session(
            sandbox.snmpd,
            &sandbox.snmpv3_user,
            AuthProtocol::Sha1,
            Cipher::Aes128,
            "not-the-password",
            &sandbox.snmpv3_priv_pass,
        )
        .await?;
        let mut pdu = tokio::time::timeout(TIMEOUT, session.get(&oid(SYS_NAME)))
            .await
            .map_err(|_| snmp2::Error::Send)??;
        Ok::<_, snmp2::Error>(format!("{:?}", pdu.varbinds.next()))
    }
    .await;
    assert!(
        result.is_err(),
        "a wrong password must not yield values: {result:?}"
    );
}

/// `snmpbulkwalk -On` output for a subtree as (OID, string value) pairs: the ground truth.
fn bulkwalk(addr: SocketAddr, community: &str, subtree: &str) -> Vec<(String, String)> {
    let out = std::process::Command::new("snmpbulkwalk")
        .args([
            "-v2c",
            "-c",
            community,
            "-On",
            "-Cr25",
            &addr.to_string(),
            subtree,
        ])
        .output()
        .expect("running snmpbulkwalk");
    assert!(
        out.status.success(),
        "snmpbulkwalk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(" = STRING: "))
        .map(|(o, v)| {
            (
                o.trim_start_matches('.').to_string(),
                v.trim_matches('"').to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn snmpsim_recording_walks_like_net_snmp() {
    let sandbox = require_sandbox!();
    let community = "cisco-c3560";
    let mut session = AsyncSession::new_v2c(sandbox.snmpsim, community.as_bytes(), 1)
        .await
        .expect("a v2c session");
    let root = oid(IF_DESCR).to_id_string();
    let mut next = oid(IF_DESCR);
    let mut walked = Vec::new();
    'walk: loop {
        let pdu = tokio::time::timeout(TIMEOUT, session.getbulk(&[&next], 0, 25))
            .await
            .expect("an answer before the timeout")
            .expect("a GETBULK response");
        let mut last = None;
        for (name, value) in pdu.varbinds {
            let id = name.to_id_string();
            if !id.starts_with(&format!("{root}.")) {
                break 'walk;
            }
            match value {
                Value::OctetString(s) => {
                    walked.push((id.clone(), String::from_utf8_lossy(s).into_owned()))
                }
                Value::EndOfMibView => break 'walk,
                other => panic!("ifDescr {id} is not a string: {other:?}"),
            }
            last = Some(id);
        }
        let Some(last) = last else { break };
        let parts: Vec<u64> = last
            .split('.')
            .map(|p| p.parse().expect("numeric OID"))
            .collect();
        next = oid(&parts);
    }
    let truth = bulkwalk(sandbox.snmpsim, community, ".1.3.6.1.2.1.2.2.1.2");
    assert!(
        truth.len() > 10,
        "the recording should have many interfaces, got {}",
        truth.len()
    );
    assert_eq!(walked, truth);
}
