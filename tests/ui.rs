//! Compile errors of `model!`, pinned as snapshots: each case in `tests/ui/` opens with a
//! comment saying what it checks; its `.stderr` shows the message and where it points.

#[test]
fn model_macro_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
