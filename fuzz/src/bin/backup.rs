//! AFL++ target: [`kiln_fuzz::backup`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::backup(data);
    });
}
