//! AFL++ target: [`kiln_fuzz::keras`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::keras(data);
    });
}
