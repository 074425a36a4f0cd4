//! AFL++ target: [`kiln_fuzz::history`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::history(data);
    });
}
