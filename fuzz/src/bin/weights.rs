//! AFL++ target: [`kiln_fuzz::weights`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::weights(data);
    });
}
