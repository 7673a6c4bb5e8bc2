//! Embeds `dashboards/*.json` and `policies/{cilium,kubernetes}/*.yaml.hbs` into the binary, so
//! that adding a dashboard or a policy template is a matter of dropping a file in the directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("..");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let mut code = String::new();
    let bytes = embed(&mut code, "DASHBOARDS", &root.join("dashboards"), ".json");
    // They go into one ConfigMap, and a ConfigMap holds at most 1 MiB.
    assert!(
        bytes <= 900 * 1024,
        "dashboards/*.json total {bytes} bytes; one tenant ConfigMap holds at most 1 MiB: split them \
         into more ConfigMaps in deployer/src/tenant/build/grafana.rs"
    );
    embed(
        &mut code,
        "CILIUM_POLICIES",
        &root.join("policies/cilium"),
        ".yaml.hbs",
    );
    embed(
        &mut code,
        "KUBERNETES_POLICIES",
        &root.join("policies/kubernetes"),
        ".yaml.hbs",
    );
    fs::write(out.join("embedded.rs"), code).expect("write embedded.rs");
}

/// Writes `pub static NAME: &[(&str, &str)] = &[(stem, include_str!(path)), ...];`, sorted by
/// name; returns the total size of the files.
fn embed(code: &mut String, name: &str, dir: &Path, suffix: &str) -> u64 {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, PathBuf)> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                let file = p.file_name()?.to_str()?.to_owned();
                let stem = file.strip_suffix(suffix)?.to_owned();
                Some((stem, p))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    writeln!(code, "pub static {name}: &[(&str, &str)] = &[").expect("write to string");
    let mut total = 0;
    for (stem, path) in files {
        total += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(
            !stem.is_empty()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'),
            "{}: file names may only contain letters, digits, '-', '_' and '.'",
            path.display()
        );
        println!("cargo:rerun-if-changed={}", path.display());
        let abs = path.canonicalize().expect("canonical path");
        writeln!(
            code,
            "    ({stem:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("write to string");
    }
    writeln!(code, "];").expect("write to string");
    total
}
