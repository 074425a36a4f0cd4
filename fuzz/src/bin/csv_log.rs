//! AFL++ target: [`kiln_fuzz::csv_log`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::csv_log(data);
    });
}
