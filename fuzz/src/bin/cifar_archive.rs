//! AFL++ target: [`kiln_fuzz::cifar_archive`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::cifar_archive(data);
    });
}
