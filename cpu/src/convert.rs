//! The same values seen from the other backend: KilnCpu's primitives are Flex's, so only
//! burn's structs and enums generic over the backend need a (free) conversion.

use burn_backend::ops::{
    DeformConv2dBackward, MaxPool1dBackward, MaxPool1dWithIndices, MaxPool2dBackward,
    MaxPool2dWithIndices, TransactionPrimitive,
};
use burn_backend::quantization::QuantizationParametersPrimitive;
use burn_backend::{Backend, TensorPrimitive};
use burn_flex::Flex;

use crate::KilnCpu;

/// A value generic over one backend, moved to the other; tensors are untouched.
pub(crate) trait Convert<T> {
    fn convert(self) -> T;
}

/// Implements `Convert` both ways between KilnCpu and Flex for a struct whose fields
/// are all primitives (the same types on both backends).
macro_rules! convert_fields {
    ($($ty:ident { $($field:ident),* }),* $(,)?) => {$(
        impl Convert<$ty<Flex>> for $ty<KilnCpu> {
            fn convert(self) -> $ty<Flex> {
                $ty { $($field: self.$field),* }
            }
        }
        impl Convert<$ty<KilnCpu>> for $ty<Flex> {
            fn convert(self) -> $ty<KilnCpu> {
                $ty { $($field: self.$field),* }
            }
        }
    )*};
}

convert_fields! {
    MaxPool1dBackward { x_grad },
    MaxPool1dWithIndices { output, indices },
    MaxPool2dBackward { x_grad },
    MaxPool2dWithIndices { output, indices },
    DeformConv2dBackward { x_grad, offset_grad, weight_grad, mask_grad, bias_grad },
    QuantizationParametersPrimitive { scales },
}

fn primitive<A, B>(tensor: TensorPrimitive<A>) -> TensorPrimitive<B>
where
    A: Backend,
    B: Backend<
            FloatTensorPrimitive = A::FloatTensorPrimitive,
            QuantizedTensorPrimitive = A::QuantizedTensorPrimitive,
        >,
{
    match tensor {
        TensorPrimitive::Float(t) => TensorPrimitive::Float(t),
        TensorPrimitive::QFloat(t) => TensorPrimitive::QFloat(t),
    }
}

impl Convert<TensorPrimitive<Flex>> for TensorPrimitive<KilnCpu> {
    fn convert(self) -> TensorPrimitive<Flex> {
        primitive(self)
    }
}

impl Convert<TensorPrimitive<KilnCpu>> for TensorPrimitive<Flex> {
    fn convert(self) -> TensorPrimitive<KilnCpu> {
        primitive(self)
    }
}

/// A transaction's tensors, read by Flex (the read order is kept by the caller's
/// transaction, which only sees the data this returns).
impl Convert<TransactionPrimitive<Flex>> for TransactionPrimitive<KilnCpu> {
    fn convert(self) -> TransactionPrimitive<Flex> {
        TransactionPrimitive::new(
            self.read_floats,
            self.read_qfloats,
            self.read_ints,
            self.read_bools,
        )
    }
}
