// A merge of unequal shapes is refused on the merge, naming each input's shape by the
// binding it comes from; Concatenate names the dimension that differs.
use kiln::prelude::*;

model! {
    pub struct Skip {
        input x: [3, 32, 32],
        let h = x -> Conv2D(32, 3, padding = same);
        let r = h -> Conv2D(64, 3, padding = same);
        let y = Add(h, r) -> GlobalAveragePooling2D -> Dense(10);
        output y,
    }
}

model! {
    pub struct Joined {
        input x: [3, 32, 32],
        let a = x -> Conv2D(8, 3);
        let b = x -> Conv2D(8, 3, padding = same);
        let y = Concatenate(a, b, axis = 1) -> Flatten -> Dense(10);
        output y,
    }
}

fn main() {}
