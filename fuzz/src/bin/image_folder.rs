//! AFL++ target: [`kiln_fuzz::image_folder`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = kiln_fuzz::image_folder(data);
    });
}
