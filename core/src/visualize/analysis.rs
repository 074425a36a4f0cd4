//! The numbers a report shows: every layer's output for the chosen images, the
//! predictions, and Grad-CAM's class activation maps.

use std::convert::Infallible;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use kiln_spec::Activation;

use crate::dyn_tensor::DynTensor;
use crate::error::TrainError;
use crate::features::Tap;
use crate::model::{Batch, Model};

/// One image as the model takes it: `shape` (channels first) of values.
#[derive(Debug, Clone)]
pub struct Picture {
    /// What the report calls it (a file name, `test #7`).
    pub name: String,
    /// The values, as the model's input takes them.
    pub values: Vec<f32>,
    /// Its class, when known.
    pub label: Option<usize>,
}

/// One layer's output for every picture.
#[derive(Debug, Clone)]
pub struct Maps {
    /// The layer.
    pub layer: String,
    /// One example's shape.
    pub dims: Vec<usize>,
    /// Each picture's values.
    pub values: Vec<Vec<f32>>,
}

/// Grad-CAM's map of one layer for one picture and class.
#[derive(Debug, Clone)]
pub struct Cam {
    /// The layer.
    pub layer: String,
    /// The picture's index.
    pub picture: usize,
    /// The class explained.
    pub class: usize,
    /// `[height, width]` of the layer's output.
    pub dims: [usize; 2],
    /// `relu(Σ_k α_k A_k)`, row after row: 0 where nothing speaks for the class.
    pub values: Vec<f32>,
}

/// What the model makes of the pictures.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Every layer's output, in order.
    pub maps: Vec<Maps>,
    /// Each picture's output (the probabilities of a softmax classifier).
    pub outputs: Vec<Vec<f32>>,
    /// Grad-CAM for every layer with channels and a position, for each picture's
    /// predicted class and the chosen one.
    pub cams: Vec<Cam>,
}

/// Records every layer's output, its activation applied.
struct Record<B: Backend> {
    outputs: Vec<(String, DynTensor<B>)>,
}

impl<B: Backend> Tap<B> for Record<B> {
    type Stop = Infallible;

    fn at<const D: usize>(
        &mut self,
        layer: &str,
        output: Tensor<B, D>,
        pending: Activation,
    ) -> Result<Tensor<B, D>, Infallible> {
        // Every layer's output has rank 2 to 4 (runtime models hold no other).
        if let Ok(t) = DynTensor::new(crate::activation::apply(pending, output.clone())) {
            self.outputs.push((layer.to_owned(), t));
        }
        Ok(output)
    }
}

/// Makes layer `layer`'s output a new leaf of the autodiff graph, so that its gradient is
/// kept: Grad-CAM's `∂score/∂A`.
struct Leaf<'a, B: Backend> {
    layer: &'a str,
    leaf: Option<Tensor<B, 4>>,
}

impl<B: Backend> Tap<B> for Leaf<'_, B> {
    type Stop = Infallible;

    fn at<const D: usize>(
        &mut self,
        layer: &str,
        output: Tensor<B, D>,
        _pending: Activation,
    ) -> Result<Tensor<B, D>, Infallible> {
        if layer != self.layer || D != 4 {
            return Ok(output);
        }
        let dims = output.dims();
        let leaf = output
            .reshape([dims[0], dims[1], dims[2], dims[3]])
            .detach()
            .require_grad();
        self.leaf = Some(leaf.clone());
        Ok(leaf.reshape(dims))
    }
}

/// The values of `t`, one `Vec` per example.
fn per_example<B: Backend>(t: DynTensor<B>) -> Result<(Vec<usize>, Vec<Vec<f32>>), TrainError> {
    let dims = t.dims();
    let values = t.into_values()?;
    let per: usize = dims[1..].iter().product();
    let rows = values.chunks(per.max(1)).map(<[f32]>::to_vec).collect();
    Ok((dims[1..].to_vec(), rows))
}

/// The model's input for `pictures`.
fn input<B: Backend, M: Model<B>>(
    model: &M,
    pictures: &[Picture],
    device: &B::Device,
) -> Result<M::Input, TrainError> {
    let shapes = model.input_shapes();
    let [shape] = shapes.as_slice() else {
        return Err(TrainError::Inputs(format!(
            "a report shows models of one input, not {}",
            shapes.len()
        )));
    };
    let example: Vec<usize> = shape.dims().iter().filter_map(|d| d.known()).collect();
    let per: usize = example.iter().product();
    if example.len() != shape.rank() || pictures.is_empty() {
        return Err(TrainError::Inputs(format!(
            "a report needs pictures and a model input of known shape, not {shape}"
        )));
    }
    if let Some(p) = pictures.iter().find(|p| p.values.len() != per) {
        return Err(TrainError::Inputs(format!(
            "picture `{}` has {} values; the model takes {shape} ({per})",
            p.name,
            p.values.len()
        )));
    }
    let values: Vec<f32> = pictures.iter().flat_map(|p| p.values.clone()).collect();
    let rows = Tensor::<B, 2>::from_data(TensorData::new(values, [pictures.len(), per]), device);
    Ok(M::Input::from_rows(rows, &[example]))
}

/// Runs the model on `pictures`: every layer's output, the outputs, and Grad-CAM for each
/// picture's predicted class and `class`.
pub(crate) fn analyse<B, M>(
    model: &M,
    pictures: &[Picture],
    class: Option<usize>,
) -> Result<Analysis, TrainError>
where
    B: AutodiffBackend,
    M: Model<B, Output = Tensor<B, 2>>,
{
    let device = model.devices().into_iter().next().unwrap_or_default();
    let x = input(model, pictures, &device)?;
    let mut record = Record {
        outputs: Vec::new(),
    };
    let Ok(forward) = model.forward_tapped(x.clone(), &mut record);
    let probabilities = crate::activation::apply(forward.activation, forward.logits);
    let (_, outputs) = per_example(DynTensor::new(probabilities)?)?;
    let predicted: Vec<usize> = outputs.iter().map(|o| argmax(o)).collect();
    let mut maps = Vec::new();
    let mut cams = Vec::new();
    for (layer, t) in record.outputs {
        if matches!(t, DynTensor::R4(_)) {
            // The chosen class's pass only when some picture predicts another.
            let chosen = class.filter(|c| predicted.iter().any(|p| p != c));
            let classes = [
                Some(predicted.clone()),
                chosen.map(|c| vec![c; pictures.len()]),
            ];
            for chosen in classes.into_iter().flatten() {
                cams.extend(grad_cam(model, x.clone(), &layer, &chosen)?);
            }
        }
        let (dims, values) = per_example(t)?;
        maps.push(Maps {
            layer,
            dims,
            values,
        });
    }
    Ok(Analysis {
        maps,
        outputs,
        cams,
    })
}

/// The index of the largest value.
pub(crate) fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |(i, best), (j, &v)| {
                if v > best { (j, v) } else { (i, best) }
            },
        )
        .0
}

/// Grad-CAM (Selvaraju et al. 2017) of layer `layer` for class `classes[i]` of picture
/// `i`: `relu(Σ_k α_k A_k)` with `α_k` the spatial mean of `∂score/∂A_k`, the score taken
/// before the last activation.
fn grad_cam<B, M>(
    model: &M,
    x: M::Input,
    layer: &str,
    classes: &[usize],
) -> Result<Vec<Cam>, TrainError>
where
    B: AutodiffBackend,
    M: Model<B, Output = Tensor<B, 2>>,
{
    let mut tap = Leaf { layer, leaf: None };
    let Ok(forward) = model.forward_tapped(x, &mut tap);
    let Some(a) = tap.leaf else {
        return Ok(Vec::new());
    };
    let [n, width] = forward.logits.dims();
    if let Some(&c) = classes.iter().find(|&&c| c >= width) {
        return Err(TrainError::Setting(format!(
            "class {c} for Grad-CAM, but the model has {width} outputs"
        )));
    }
    let mut pick = vec![0.0f32; n * width];
    for (i, &c) in classes.iter().enumerate() {
        pick[i * width + c] = 1.0;
    }
    let pick = Tensor::<B, 2>::from_data(TensorData::new(pick, [n, width]), &a.device());
    let grads = (forward.logits * pick).sum().backward();
    let Some(gradient) = a.grad(&grads) else {
        return Ok(Vec::new());
    };
    let alpha = gradient.mean_dim(3).mean_dim(2);
    let cam = (a.inner() * alpha).sum_dim(1).clamp_min(0.0);
    let [_, _, h, w] = cam.dims();
    let values = cam
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| {
            TrainError::Setting(format!("Grad-CAM of `{layer}` could not be read: {e:?}"))
        })?;
    Ok(values
        .chunks(h * w)
        .zip(classes)
        .enumerate()
        .map(|(picture, (values, &class))| Cam {
            layer: layer.to_owned(),
            picture,
            class,
            dims: [h, w],
            values: values.to_vec(),
        })
        .collect())
}

impl Picture {
    /// An image file's bytes (PNG or JPEG) as the model's input of `shape` (channels
    /// first, 1 or 3 channels): resized, made grey or colour, values in `[0, 1]`.
    ///
    /// # Errors
    /// When the bytes are not an image, or `shape` is not an image's.
    pub fn decode(name: &str, bytes: &[u8], shape: &[usize]) -> Result<Picture, TrainError> {
        let &[c, h, w] = shape else {
            return Err(TrainError::Inputs(format!(
                "an image file fits a model input of [channels, height, width], not {shape:?}"
            )));
        };
        let image = image::load_from_memory(bytes)
            .map_err(|e| TrainError::Inputs(format!("`{name}` is not an image: {e}")))?
            .resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle);
        let values: Vec<f32> = match c {
            1 => image.to_luma8().into_raw(),
            3 => {
                let rgb = image.to_rgb8();
                // Channels first.
                (0..3)
                    .flat_map(|k| rgb.pixels().map(move |p| p.0[k]))
                    .collect()
            }
            _ => {
                return Err(TrainError::Inputs(format!(
                    "an image file has 1 or 3 channels; the model takes {c}"
                )));
            }
        }
        .into_iter()
        .map(|v| f32::from(v) / 255.0)
        .collect();
        Ok(Picture {
            name: name.to_owned(),
            values,
            label: None,
        })
    }
}
