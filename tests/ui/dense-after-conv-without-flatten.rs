// Dense cannot take the 3-D output of a convolution: the error sits on the Dense layer,
// names both shapes and suggests Flatten. The stub keeps `main` free of follow-on errors.
use kiln::prelude::*;

model! {
    pub struct Net {
        input: [1, 28, 28],
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Dense(10, activation = softmax),
    }
}

fn main() {
    type B = kiln::backend::CpuBackend;
    let model = Net::<B>::new(&Default::default());
    let y: Tensor<B, 2> = model.forward(Tensor::<B, 4>::zeros([1, 1, 28, 28], &Default::default()));
    println!("{:?} {}", y.dims(), model.summary());
}
