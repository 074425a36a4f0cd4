//! AFL++ target: [`kiln_fuzz::json_model`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::json_model(data);
    });
}
