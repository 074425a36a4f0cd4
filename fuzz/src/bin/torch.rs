//! AFL++ target: [`kiln_fuzz::torch`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::torch(data);
    });
}
