//! What the import tests share: the fixtures written by `tests/fixtures/make_fixtures.py`,
//! the reference outputs beside them, and the comparison with them.
#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData};

pub type B = kiln::backend::CpuBackend;

/// The path of fixture `name`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The inputs (as a tensor of `shape`) and the reference framework's outputs in
/// `{name}_io.json`.
pub fn reference<const D: usize>(name: &str, shape: [usize; D]) -> (Tensor<B, D>, Vec<f32>) {
    let text = std::fs::read_to_string(fixture(&format!("{name}_io.json"))).unwrap();
    let io: serde_json::Value = serde_json::from_str(&text).unwrap();
    let floats = |key: &str| -> Vec<f32> {
        io[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let x = Tensor::from_data(TensorData::new(floats("input"), shape), &Default::default());
    (x, floats("output"))
}

/// Asserts `got` equals the reference outputs `want` within 1e-5.
pub fn assert_close<const D: usize>(got: Tensor<B, D>, want: &[f32]) {
    let got: Vec<f32> = got.into_data().to_vec().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-5,
            "got {got:?}, the reference gave {want:?}"
        );
    }
}

/// `model` with the weights `save` writes to a kiln file, loaded back.
pub fn through_a_kiln_file<M: kiln::Model<B>>(
    name: &str,
    save: impl FnOnce(&std::path::Path) -> Result<(), kiln::TrainError>,
    mut model: M,
) -> M {
    let dir = std::env::temp_dir().join(format!("kiln-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.safetensors"));
    save(&path).unwrap();
    kiln::load_weights(&mut model, &path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    model
}

/// How many of the damaged copies of `bytes` `read` refuses: `bytes` cut at every
/// `step`-th byte, and 3,000 copies with four bytes set at random. A panic fails the test.
pub fn refusals_of_damaged(bytes: &[u8], step: usize, read: impl Fn(&[u8]) -> bool) -> usize {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut refused = 0;
    for cut in (0..bytes.len()).step_by(step) {
        refused += usize::from(!read(&bytes[..cut]));
    }
    for _ in 0..3000 {
        let mut damaged = bytes.to_vec();
        for _ in 0..4 {
            let at = (next() % damaged.len() as u64) as usize;
            damaged[at] = next() as u8;
        }
        refused += usize::from(!read(&damaged));
    }
    refused
}

/// The training backend of the callback and fault tests.
pub type Ad = kiln::backend::Cpu;

/// An empty scratch folder `kiln-{name}-{process}` in the temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The trainer the callback and fault tests share, for the model `make` builds once the
/// backend is seeded: Adam at 3·10⁻³, categorical cross-entropy, accuracy.
pub fn trainer<M>(make: impl FnOnce(&burn::tensor::Device<Ad>) -> M) -> kiln::Trainer<Ad, M>
where
    M: burn::module::AutodiffModule<Ad> + kiln::Model<Ad>,
    M::InnerModule: kiln::Model<kiln::backend::CpuBackend>,
{
    use burn::tensor::backend::Backend;
    let device = Default::default();
    <Ad as Backend>::seed(&device, 11);
    kiln::Trainer::new(make(&device))
        .optimizer(kiln::Adam::new().learning_rate(3e-3))
        .loss(kiln::Loss::CategoricalCrossentropy)
        .metrics([kiln::Metric::Accuracy])
}

/// What the TensorBoard-reading script `tests/<script>` prints for `logs`, run by the
/// Python that `KILN_TENSORBOARD_PYTHON` names (`python3` when unset). `None`, saying why,
/// when that Python or its tensorboard package is missing; a failure instead under
/// `CI=true`, where `.ci/run` installs them.
pub fn tensorboard_script(script: &str, logs: &std::path::Path) -> Option<String> {
    let python = std::env::var("KILN_TENSORBOARD_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let missing = match std::process::Command::new(&python)
        .arg(&script)
        .arg(logs)
        .output()
    {
        Ok(out) if out.status.success() => {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Ok(out) if out.status.code() == Some(3) => {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        }
        Ok(out) => panic!(
            "{} failed ({python}): {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run {python}: {e}"),
    };
    let hint = "set KILN_TENSORBOARD_PYTHON to a Python with the tensorboard package";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "TensorBoard's reader: {missing}, and CI=true needs it; {hint}"
    );
    eprintln!("skipped TensorBoard's reader: {missing}; {hint}");
    None
}
