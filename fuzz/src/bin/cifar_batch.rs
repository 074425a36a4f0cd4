//! AFL++ target: [`kiln_fuzz::cifar_batch`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::cifar_batch(data);
    });
}
