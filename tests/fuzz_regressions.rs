//! The fuzz targets of `fuzz/` on their seed corpora and on every input a fuzzer found a
//! fault with. A seed (`fuzz/corpus/<target>/`: real files, and valid inputs a fuzzer once
//! crashed on) must be read; a regression (`fuzz/regressions/<target>/<case>`) must be
//! refused with an error holding the text of `<case>.expect`, and no input may panic.

#[path = "../fuzz/src/lib.rs"]
mod fuzz;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "expect"))
        .collect();
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_seed_is_read() {
    for (name, target) in fuzz::TARGETS {
        let seeds = files(&root().join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} holds no seed");
        for seed in seeds {
            let bytes = std::fs::read(&seed).unwrap();
            if let Err(e) = target(&bytes) {
                panic!("{name} refused its seed {}: {e}", seed.display());
            }
        }
    }
}

#[test]
fn every_regression_is_refused_by_name() {
    for (name, target) in fuzz::TARGETS {
        for case in files(&root().join("regressions").join(name)) {
            let bytes = std::fs::read(&case).unwrap();
            let expect = case.with_extension("expect");
            let want = std::fs::read_to_string(&expect)
                .unwrap_or_else(|_| panic!("{} has no .expect file", case.display()));
            match target(&bytes) {
                Ok(()) => panic!("{name} accepted {}", case.display()),
                Err(e) => assert!(
                    e.contains(want.trim()),
                    "{name} refused {} with {e:?}, not naming {:?}",
                    case.display(),
                    want.trim()
                ),
            }
        }
    }
}
