//! The commit `roster --version` names: `BUILD_COMMIT` when the build sets it (a container build has no `.git`; not
//! `ROSTER_…`: cargo also sets it when it runs the binary, and roster reads `ROSTER_*` as configuration),
//! else the checkout's `HEAD`, else "unknown".

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BUILD_COMMIT");
    let git_dir = Path::new("../../.git");
    if git_dir.exists() {
        // a new commit moves the branch HEAD names (or packed-refs), a checkout moves HEAD itself
        println!("cargo:rerun-if-changed=../../.git/HEAD");
        // only files that are there: cargo reruns a build script for a watched file that is missing, every build
        if git_dir.join("packed-refs").exists() {
            println!("cargo:rerun-if-changed=../../.git/packed-refs");
        }
        if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) {
            if let Some(branch) = head.trim().strip_prefix("ref: ") {
                println!("cargo:rerun-if-changed=../../.git/{branch}");
            }
        }
    }
    let commit = std::env::var("BUILD_COMMIT").ok().filter(|c| !c.trim().is_empty()).or_else(|| {
        let output = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    });
    println!("cargo:rustc-env=BUILD_COMMIT={}", commit.unwrap_or_else(|| "unknown".into()));
}
