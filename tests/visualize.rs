//! The visualisation report: activation maps equal the model's own intermediate outputs,
//! Grad-CAM points at what decides the class, the live server answers uploads; and in a
//! real browser, headless Chromium opens the written report from disk and the live server
//! on 127.0.0.1, read back through the DOM (`--dump-dom`, and WebDriver over plain HTTP
//! for the upload). Chromium and ChromeDriver come from Debian's `chromium` and
//! `chromium-driver` (`.ci/run` installs them); `KILN_CHROMIUM` and `KILN_CHROMEDRIVER`
//! name others. Without them a browser test says so and passes, except under `CI=true`,
//! where it fails.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};
use kiln::prelude::*;
use kiln::visualize::{Picture, Server, Visualize, pictures};
use serde_json::{Value, json};

type B = kiln::backend::Cpu;

model! {
    /// A small CNN with every kind of layer a report draws.
    pub struct Small {
        input: [1, 28, 28],
        Conv2D(4, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.5),
        Conv2D(6, 3, activation = relu),
        Flatten,
        Dense(10, activation = softmax),
    }
}

model! {
    /// One 1×1 convolution, its average and two classes: Grad-CAM by hand.
    pub struct Probe {
        input: [1, 4, 4],
        Conv2D(1, 1, activation = relu),
        GlobalAveragePooling2D,
        Dense(2, activation = softmax),
    }
}

#[test]
fn activation_maps_are_the_layers_own_outputs() {
    let device = Default::default();
    let model = Small::<B>::new(&device);
    let digits = kiln::datasets::synthetic_digits(8, 3);
    let chosen = pictures(&digits, &[1, 5]).unwrap();
    let analysis = Visualize::new().analyse(&model, &chosen).unwrap();
    let names: Vec<&str> = analysis.maps.iter().map(|m| m.layer.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv2d",
            "max_pooling2d",
            "dropout",
            "conv2d_1",
            "flatten",
            "dense"
        ]
    );
    let values: Vec<f32> = chosen.iter().flat_map(|p| p.values.clone()).collect();
    let x = Tensor::<B, 4>::from_data(TensorData::new(values, [2, 1, 28, 28]), &device);
    for maps in &analysis.maps {
        let want = model.features(&maps.layer, x.clone()).unwrap();
        assert_eq!(&want.dims()[1..], maps.dims.as_slice(), "{}", maps.layer);
        let want = want.into_values().unwrap();
        let got: Vec<f32> = maps.values.concat();
        // Dropout passes through at inference, so every map is the forward's own.
        assert_eq!(got, want, "{}", maps.layer);
    }
    let probabilities = model.forward(x).into_data().to_vec::<f32>().unwrap();
    assert_eq!(analysis.outputs.concat(), probabilities);
    // Grad-CAM for each picture's prediction at every layer with channels and a position.
    let cam_layers: Vec<&str> = analysis.cams.iter().map(|c| c.layer.as_str()).collect();
    assert_eq!(cam_layers.len(), 4 * 2);
    assert!(cam_layers.iter().all(|l| *l != "flatten" && *l != "dense"));
}

model! {
    /// A block to nest.
    pub struct Block {
        input: [4, 13, 13],
        Conv2D(4, 3, padding = same, activation = relu),
    }
}

model! {
    /// The functional form: a branch through a nested model, merged back.
    pub struct Skip {
        input x: [1, 28, 28],
        let a = x -> Conv2D(4, 3, activation = relu) -> MaxPooling2D(2);
        let b = a -> Model(Block);
        let y = Add(a, b) -> Flatten -> Dense(10, activation = softmax);
        output y,
    }
}

#[test]
fn functional_nested_and_json_models_draw_their_branches_and_merges() {
    let device = Default::default();
    let digits = kiln::datasets::synthetic_digits(2, 1);
    let chosen = pictures(&digits, &[0, 1]).unwrap();
    let model = Skip::<B>::new(&device);
    let json = kiln::from_json::<B, 4, 2>(&model.to_json(), &device).unwrap();
    let generated = Visualize::new().render(&model, &chosen).unwrap();
    let from_json = Visualize::new().render(&json, &chosen).unwrap();
    for report in [&generated, &from_json] {
        let page = report.index_html();
        // conv2d, max_pooling2d, block, add, flatten, dense; the input beside them.
        assert_eq!(page.matches(r#"<g class="node""#).count(), 6);
        assert_eq!(page.matches(r#"<g class="input""#).count(), 1);
        for edge in [
            r#"data-from="max_pooling2d" data-to="block""#,
            r#"data-from="max_pooling2d" data-to="add""#,
            r#"data-from="block" data-to="add""#,
        ] {
            assert!(page.contains(edge), "{edge}");
        }
        assert!(report.file("img/maps-1-block.png").is_some());
        assert!(report.file("img/filters-conv2d.png").is_some());
    }
    // The same weights give the same maps, whichever way the model was built.
    let mut json = json;
    kiln::load_weights(&mut json, save(&model)).unwrap();
    let a = Visualize::new().analyse(&model, &chosen).unwrap();
    let b = Visualize::new().analyse(&json, &chosen).unwrap();
    for (x, y) in a.maps.iter().zip(&b.maps) {
        assert_eq!((&x.layer, &x.values), (&y.layer, &y.values));
    }
    let cams =
        |a: &kiln::visualize::Analysis| a.cams.iter().map(|c| c.layer.clone()).collect::<Vec<_>>();
    assert_eq!(
        cams(&a),
        [
            "conv2d",
            "conv2d",
            "max_pooling2d",
            "max_pooling2d",
            "block",
            "block",
            "add",
            "add"
        ]
    );
    assert_eq!(cams(&a), cams(&b));
}

/// `model`'s weights in a file of their own.
fn save<M: kiln::Model<B>>(model: &M) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("kiln-viz-skip-{}.safetensors", std::process::id()));
    kiln::save_weights(model, &path).unwrap();
    path
}

/// Sets the probe's weights: the convolution passes the image through, the dense layer
/// scores the mean for class 0 and against it for class 1.
struct HandSet;

impl ModuleMapper<B> for HandSet {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| match D {
            4 => t.ones_like(),
            2 => Tensor::<B, 1>::from_floats([1.0, -1.0], &t.device()).reshape(t.dims()),
            _ => t.zeros_like(),
        })
    }
}

#[test]
fn grad_cam_points_at_the_region_that_decides_the_class() {
    let device = Default::default();
    let model = Probe::<B>::new(&device).map(&mut HandSet);
    // A bright 2×2 square in the top-left corner of a dark 4×4 image.
    let mut values = vec![0.0; 16];
    for i in [0, 1, 4, 5] {
        values[i] = 1.0;
    }
    let picture = Picture {
        name: "square".into(),
        values,
        label: Some(0),
    };
    let analysis = Visualize::new()
        .class(1)
        .analyse(&model, &[picture])
        .unwrap();
    let cam = |class: usize| {
        analysis
            .cams
            .iter()
            .find(|c| c.layer == "conv2d" && c.class == class)
            .unwrap()
            .values
            .clone()
    };
    // Class 0's score is the mean of A, so ∂score/∂A = 1/16 everywhere, α = 1/16 and
    // the map is relu(A / 16): the square, and nothing else.
    let want: Vec<f32> = (0..16)
        .map(|i| {
            if [0, 1, 4, 5].contains(&i) {
                1.0 / 16.0
            } else {
                0.0
            }
        })
        .collect();
    assert_eq!(cam(0), want);
    // Class 1 scores against the square: nothing speaks for it.
    assert_eq!(cam(1), vec![0.0; 16]);
    assert!(analysis.outputs[0][0] > analysis.outputs[0][1]);
}

#[test]
fn a_report_holds_a_node_per_layer_and_every_image_it_names() {
    let device = Default::default();
    let model = Small::<B>::new(&device);
    let digits = kiln::datasets::synthetic_digits(4, 1);
    let chosen = pictures(&digits, &[0, 2, 3]).unwrap();
    let report = Visualize::new()
        .classes((0..10).map(|d| format!("digit {d}")))
        .class(7)
        .render(&model, &chosen)
        .unwrap();
    let page = report.index_html();
    assert_eq!(page.matches(r#"<g class="node""#).count(), 6);
    let json = page
        .split(r#"<script type="application/json" id="data">"#)
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(data["images"].as_array().unwrap().len(), 3);
    assert_eq!(data["images"][1]["label"], "digit 2");
    assert_eq!(data["images"][0]["top"].as_array().unwrap().len(), 5);
    assert_eq!(data["layers"][0]["filters"], "img/filters-conv2d.png");
    assert_eq!(data["layers"][3]["layout"]["columns"], 3);
    // Every image the page names is in the report, and is a PNG.
    let mut named = Vec::new();
    for image in data["images"].as_array().unwrap() {
        named.push(image["src"].as_str().unwrap().to_owned());
        for src in image["maps"].as_object().unwrap().values() {
            named.push(src.as_str().unwrap().to_owned());
        }
        for cams in image["cams"].as_object().unwrap().values() {
            let whats: Vec<&str> = cams
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["what"].as_str().unwrap())
                .collect();
            assert!(whats.contains(&"predicted"), "{whats:?}");
            for cam in cams.as_array().unwrap() {
                named.push(cam["src"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(
        named.len(),
        3 * (1 + 6)
            + data["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["cams"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|c| c.as_array().unwrap().len())
                    .sum::<usize>())
                .sum::<usize>()
    );
    for name in &named {
        let bytes = report
            .file(name)
            .unwrap_or_else(|| panic!("{name} is missing"));
        assert!(image::load_from_memory(bytes).is_ok(), "{name}");
    }
    let dir = std::env::temp_dir().join(format!("kiln-viz-{}", std::process::id()));
    let index = report.write(&dir).unwrap();
    assert!(index.ends_with("index.html") && dir.join(&named[0]).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_without_a_declaration_or_a_picture_that_does_not_fit_is_refused() {
    let device = Default::default();
    let model = Small::<B>::new(&device);
    let wrong = Picture {
        name: "tiny".into(),
        values: vec![0.0; 10],
        label: None,
    };
    let err = Visualize::new().render(&model, &[wrong]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "picture `tiny` has 10 values; the model takes [1, 28, 28] (784)"
    );
    let digits = kiln::datasets::synthetic_digits(2, 1);
    let err = pictures(&digits, &[0, 40]).unwrap_err();
    assert!(
        err.to_string().contains("example 40 of a dataset of"),
        "{err}"
    );
    let err = Visualize::new()
        .class(12)
        .analyse(&model, &pictures(&digits, &[0]).unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "class 12 for Grad-CAM, but the model has 10 outputs"
    );
}

/// A PNG of `w × h` grey pixels of value `v`.
fn png(w: u32, h: u32, v: u8) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::GrayImage::from_pixel(w, h, image::Luma([v]))
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}

#[test]
fn an_image_file_becomes_the_models_input() {
    let picture = Picture::decode("grey.png", &png(56, 40, 255), &[1, 28, 28]).unwrap();
    assert_eq!(picture.values, vec![1.0; 784]);
    let colour = Picture::decode("grey.png", &png(8, 8, 51), &[3, 4, 4]).unwrap();
    assert_eq!(colour.values, vec![0.2; 48]);
    let err = Picture::decode("notes.txt", b"hello", &[1, 28, 28]).unwrap_err();
    assert!(
        err.to_string().starts_with("`notes.txt` is not an image"),
        "{err}"
    );
}

/// `method path` with `body`, over HTTP/1.1: the status and body of the answer.
pub fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer[split + 4..].to_vec())
}

/// A live report of a fresh `Small` on one synthetic digit, served on a free local port
/// from a thread of its own (the first request waits for the first report).
fn live_server() -> std::net::SocketAddr {
    let server = Server::bind(0).unwrap();
    let addr = server.addr().unwrap();
    std::thread::spawn(move || {
        let device = Default::default();
        let model = Small::<B>::new(&device);
        let digits = kiln::datasets::synthetic_digits(2, 1);
        server.run(&Visualize::new(), &model, pictures(&digits, &[0]).unwrap())
    });
    addr
}

#[test]
fn the_live_server_adds_an_uploaded_image_to_the_report() {
    let addr = live_server();
    let (status, page) = http(addr, "GET", "/", b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains(r#""live":true"#));
    let (status, answer) = http(addr, "POST", "/upload", &png(28, 28, 200));
    assert_eq!(
        (status, String::from_utf8_lossy(&answer).as_ref()),
        (200, r#"{"image":1}"#)
    );
    let (status, bytes) = http(addr, "GET", "/img/input-1.png", b"");
    assert_eq!(status, 200);
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 28);
    let (status, answer) = http(addr, "POST", "/upload", b"not an image");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&answer).contains("is not an image"));
    assert_eq!(http(addr, "GET", "/img/nothing.png", b"").0, 404);
    // A request line that never ends is cut at 64 KiB and refused; the server goes on.
    let mut endless = std::net::TcpStream::connect(addr).unwrap();
    let _ = endless.write_all(format!("GET /?{}", "a".repeat(100 << 10)).as_bytes());
    let mut answer = String::new();
    let _ = endless.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    assert_eq!(http(addr, "GET", "/", b"").0, 200);
    assert_eq!(http(addr, "DELETE", "/", b"").0, 405);
}

/// The program `var` names, else `default`, when it runs; `None` (said) when it does not,
/// except under `CI=true`.
fn tool(var: &str, default: &str) -> Option<String> {
    let program = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    match Command::new(&program).arg("--version").output() {
        Ok(out) if out.status.success() => Some(program),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{program} is missing, and CI=true needs it: apt-get install chromium chromium-driver, or set {var}"
            );
            eprintln!(
                "skipped: no {program} (set {var}, or apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// Chromium's flags for a headless run here: no sandbox (root), no network chatter.
fn flags(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1100,800",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The attribute `name` of the first tag that has it, in `html`.
fn attribute<'a>(html: &'a str, tag: &str, name: &str) -> &'a str {
    let at = html
        .find(tag)
        .unwrap_or_else(|| panic!("no {tag} in the page"));
    let rest = &html[at..];
    let rest = &rest[rest.find(&format!(" {name}=\"")).unwrap() + name.len() + 3..];
    &rest[..rest.find('"').unwrap()]
}

/// How varied a screenshot is: the number of distinct colours in it.
fn colours(png: &[u8]) -> usize {
    let shot = image::load_from_memory(png).unwrap().to_rgb8();
    let mut seen: Vec<[u8; 3]> = shot.pixels().map(|p| p.0).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

#[test]
fn the_report_renders_in_chromium_and_its_url_names_the_view() {
    let Some(chromium) = tool("KILN_CHROMIUM", "chromium") else {
        return;
    };
    let device = Default::default();
    let model = Small::<B>::new(&device);
    let digits = kiln::datasets::synthetic_digits(4, 1);
    let chosen = pictures(&digits, &[0, 1, 2]).unwrap();
    let dir = scratch("viz-browser");
    // A class other than image 1's prediction, so that it shows two maps.
    let outputs = Visualize::new().analyse(&model, &chosen).unwrap().outputs;
    let best = outputs[1]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    let report = Visualize::new()
        .class((best + 1) % 10)
        .render(&model, &chosen)
        .unwrap();
    let index = report.write(dir.join("report")).unwrap();
    let profile = dir.join("profile");
    let open = |hash: &str, extra: &[String]| {
        let out = Command::new(&chromium)
            .args(flags(&profile))
            .args(extra)
            // The page's console on stderr: a script error shows as `Uncaught ...`.
            .args(["--enable-logging=stderr", "--v=0"])
            .arg(format!("file://{}#{hash}", index.display()))
            .output()
            .unwrap();
        let console = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{console}");
        assert!(!console.contains("Uncaught"), "{console}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dump = ["--dump-dom".to_owned()];
    let mut tiles = Vec::new();
    for (layer, image) in [("conv2d", 0), ("conv2d_1", 2), ("dense", 1)] {
        let page = open(&format!("layer={layer}&image={image}&view=maps"), &dump);
        assert_eq!(attribute(&page, "<body", "data-ready"), "ok", "{page}");
        assert_eq!(attribute(&page, "<body", "data-broken"), "0");
        assert_eq!(attribute(&page, "<body", "data-errors"), "0");
        assert_eq!(
            page.matches(r#"<g class="node"#).count(),
            6,
            "one node per layer"
        );
        assert!(page.contains(&format!("layer {layer} · image {image} (#{image})")));
        let src = attribute(&page, r#"<img src="img/maps"#, "data-layer").to_owned();
        assert_eq!(src, layer);
        tiles.push(attribute(&page, r#"<div id="view""#, "data-layer").to_owned());
    }
    assert_eq!(tiles, ["conv2d", "conv2d_1", "dense"]);
    let page = open("layer=conv2d_1&image=1&view=gradcam", &dump);
    assert_eq!(attribute(&page, "<body", "data-broken"), "0");
    assert_eq!(
        page.matches(r#"class="cam""#).count(),
        2,
        "the predicted class and the chosen one"
    );
    let shot = dir.join("shot.png");
    open(
        "layer=conv2d&image=1&view=gradcam",
        &[format!("--screenshot={}", shot.display())],
    );
    let varied = colours(&std::fs::read(&shot).unwrap());
    assert!(varied > 200, "a screenshot of {varied} colours looks blank");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A WebDriver session on ChromeDriver, spoken to in plain JSON over HTTP.
struct Driver {
    process: Child,
    session: String,
    base: String,
}

impl Driver {
    fn start(chromedriver: &str, profile: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(chromedriver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": flags(profile)}}}});
        let answer: Value = ureq::post(&format!("{base}/session"))
            .send_json(capabilities)
            .unwrap()
            .into_json()
            .unwrap();
        let session = answer["value"]["sessionId"].as_str().unwrap().to_owned();
        Driver {
            process,
            session,
            base,
        }
    }

    fn call(&self, what: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}/{what}", self.base, self.session);
        let answer = match body {
            Some(body) => ureq::post(&url).send_json(body),
            None => ureq::get(&url).call(),
        };
        let answer: Value = answer.unwrap().into_json().unwrap();
        answer["value"].clone()
    }

    fn run(&self, script: &str) -> Value {
        self.call("execute/sync", Some(json!({"script": script, "args": []})))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn the_live_report_takes_an_image_uploaded_in_chromium() {
    let (Some(_), Some(chromedriver)) = (
        tool("KILN_CHROMIUM", "chromium"),
        tool("KILN_CHROMEDRIVER", "chromedriver"),
    ) else {
        return;
    };
    let addr = live_server();
    let dir = scratch("viz-live");
    let driver = Driver::start(&chromedriver, &dir.join("profile"));
    driver.call(
        "url",
        Some(json!({"url": format!("http://{addr}/#layer=conv2d_1&image=0&view=maps")})),
    );
    let state = r#"const b = document.body.dataset;
        return [b.ready, b.broken, b.errors, document.querySelectorAll('#images img').length,
                document.getElementById('view').dataset.image, document.getElementById('drop').style.display];"#;
    let wait_for = |images: u64| {
        let started = Instant::now();
        loop {
            let now = driver.run(state);
            if now[0] == "ok" && now[3] == images {
                return now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the page stays at {now}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    assert_eq!(wait_for(1), json!(["ok", "0", "0", 1, "0", "block"]));
    // Draw a digit-like bar on a canvas and drop it on the page, as a user would.
    let upload = r#"const c = document.createElement('canvas'); c.width = 28; c.height = 28;
        const g = c.getContext('2d'); g.fillStyle = 'black'; g.fillRect(0, 0, 28, 28);
        g.fillStyle = 'white'; g.fillRect(12, 4, 5, 20);
        c.toBlob(b => window.kilnUpload(b)); return 'sent';"#;
    assert_eq!(driver.run(upload), "sent");
    // The page reloads on the new image.
    assert_eq!(wait_for(2), json!(["ok", "0", "0", 2, "1", "block"]));
    let shot = driver.call("screenshot", None);
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    let varied = colours(&png);
    assert!(varied > 100, "a screenshot of {varied} colours looks blank");
    drop(driver);
    std::fs::remove_dir_all(&dir).unwrap();
}
