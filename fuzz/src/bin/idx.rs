//! AFL++ target: [`kiln_fuzz::idx`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::idx(data);
    });
}
