"""Hugging Face models served in their image's framework environment, with the SageMaker Hugging Face Inference
Toolkit's contract (handler_service.py, decoder_encoder.py, transformers_utils.py).

The unit tests need no transformers: the toolkit's codecs and task inference are plain functions of the handler
host, and a user's ``inference.py`` whose ``model_fn`` returns any callable runs the toolkit's handler chain in
a host under Debian's own Python. The end-to-end test builds the transformers 4.48 / PyTorch 2.3 environment
(PyPI; a few hundred megabytes unless uv's cache has torch), saves a tiny randomly initialised BERT classifier
with a tokenizer built from a local vocabulary (nothing from the Hub), deploys it with ``HuggingFaceModel`` and
asks the ``HuggingFacePredictor``; another trains with the ``HuggingFace`` estimator (datasets, the Trainer) in
that environment and deploys the result. They run with ``STEPFN_TEST_FRAMEWORK_ENVS=1``
(``STEPFN_TEST_ENV_DIR`` reuses an environment directory across runs):

    STEPFN_TEST_FRAMEWORK_ENVS=1 python -m pytest tests/local/test_serving_huggingface.py -m slow
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from stepfn.local.sagemaker import handlerhost
from stepfn.local.sagemaker.envs import find_python
from stepfn.local.sagemaker.frameworks import TABLE, ImageFramework, framework_of_image, lookup
from stepfn.local.sagemaker.hosted import HostedContainer
from stepfn.local.sagemaker.inference import InferenceError, Models
from stepfn.local.sagemaker.models import prepare_container

DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
HF_INFERENCE = f"{DLC}/huggingface-pytorch-inference:2.3-transformers4.48.0-cpu-py311-ubuntu22.04"
CONFIG = Path(__file__).resolve().parents[2] / "src" / "stepfn" / "sagemaker" / "image_uri_config.json"


def _interpreters() -> list[str]:
    """Debian's Python (no stepfn, no transformers on its path) and, where there is one, a Python 3.7 (the
    oldest image's), which the handler host must run under."""
    found = ["/usr/bin/python3"] if Path("/usr/bin/python3").exists() else []
    old = find_python("3.7")
    return [*found, *([old] if old else [])]


INTERPRETERS = _interpreters()
needs_host_python = pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's here")


@pytest.fixture(params=INTERPRETERS or ["none"])
def host_python(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- which environment a Hugging Face image runs in ------------------------------------------------------------


def test_hugging_face_image_uris_name_their_transformers_and_pytorch_row() -> None:
    assert framework_of_image(HF_INFERENCE) == ImageFramework("huggingface", "4.48-pytorch2.3", "3.11")
    training = f"{DLC}/huggingface-pytorch-training:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04"
    assert framework_of_image(training) == ImageFramework("huggingface", "4.26-pytorch1.13", "3.9")
    row = lookup(framework_of_image(training))  # type: ignore[arg-type]
    assert "transformers==4.26.0" in row.packages and "torch==1.13.1" in row.packages
    assert row.index == "https://download.pytorch.org/whl/cpu"  # CPU wheels, as the PyTorch rows
    assert row.key.startswith("huggingface-4.26-pytorch1.13-py3.9-cpu-")
    # No environment for the TensorFlow flavour: those models keep being served in stepfn's Python.
    assert framework_of_image(f"{DLC}/huggingface-tensorflow-inference:2.11-transformers4.26-cpu-py39") is None


def test_every_pytorch_pairing_of_sagemaker_v2s_table_from_transformers_4_26_has_a_row() -> None:
    """v2's image table decides which (transformers, PyTorch, Python) a HuggingFace estimator or model gets;
    each such image from 4.26 on must find a row with that Python."""
    versions = json.loads(CONFIG.read_text())["configs"]["huggingface"]
    pairs = set()
    for scope in ("training", "inference"):
        for transformers, entry in versions[scope]["versions"].items():
            major, minor = (int(part) for part in transformers.split(".")[:2])
            if (major, minor) < (4, 26):
                continue
            for base, image in entry.items():
                if base.startswith("pytorch"):
                    torch = ".".join(base.removeprefix("pytorch").split(".")[:2])
                    python = image["py_versions"][0].removeprefix("py")
                    pairs.add((f"{major}.{minor}-pytorch{torch}", f"{python[0]}.{python[1:]}"))
    assert pairs
    rows = {version: row for (framework, version), row in TABLE.items() if framework == "huggingface"}
    assert {(version, row.python) for version, row in rows.items()} == pairs
    for version, row in rows.items():
        transformers, torch = version.split("-pytorch")
        assert any(p.startswith(f"transformers=={transformers}.") for p in row.packages), row
        assert any(p.startswith(f"torch=={torch}.") for p in row.packages), row


# -- the toolkit's codecs and task inference ----------------------------------------------------------------


def test_decoders_follow_the_toolkit() -> None:
    decode = handlerhost.hf_decode
    assert decode('{"inputs": "hi", "parameters": {"top_k": 1}}', "application/json") == \
        {"inputs": "hi", "parameters": {"top_k": 1}}
    # CSV needs a header naming inputs (or question/context); an inputs column becomes the list of inputs.
    assert decode("inputs\nI love it\nI hate it\n", "text/csv") == {"inputs": ["I love it", "I hate it"]}
    assert decode("question,context\nwho?,me\n", "text/csv; charset=utf-8") == \
        {"inputs": [{"question": "who?", "context": "me"}]}
    with pytest.raises(handlerhost.InferenceError, match="correct CSV with Header columns") as headerless:
        decode("I love it\n", "text/csv")
    assert headerless.value.status == 400
    assert decode(b"RIFF....", "audio/wave") == {"inputs": b"RIFF...."}
    with pytest.raises(handlerhost.InferenceError, match="Content type text/plain is not supported by this framework"):
        decode(b"hello", "text/plain")
    with pytest.raises(handlerhost.InferenceError, match="Unable to decode application/json") as broken:
        decode("{", "application/json")
    assert broken.value.status == 400


def test_encoders_follow_the_toolkit() -> None:
    numpy = pytest.importorskip("numpy")
    encode = handlerhost.hf_encode
    prediction = [{"label": "POSITIVE", "score": numpy.float32(0.5), "rank": numpy.int64(1), "word": "café"}]
    # Compact JSON, numpy scalars as numbers, non-ASCII kept.
    assert encode(prediction, "application/json") == '[{"label":"POSITIVE","score":0.5,"rank":1,"word":"café"}]'
    assert encode(prediction, "text/csv").splitlines() == ["label,score,rank,word", "POSITIVE,0.5,1,café"]
    assert numpy.load(io.BytesIO(encode([[1, 2]], "application/x-npy"))).tolist() == [[1, 2]]
    with pytest.raises(handlerhost.InferenceError, match="Content type text/html is not supported"):
        encode(prediction, "text/html")


def test_the_task_is_inferred_from_the_model_architecture(tmp_path: Path) -> None:
    def task(architecture: str) -> str:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"architectures": [architecture]}))
        return handlerhost.task_from_architecture(str(config))

    assert task("DistilBertForSequenceClassification") == "text-classification"
    assert task("BertForQuestionAnswering") == "question-answering"
    # The toolkit keeps the last suffix that matches, so Tapas ends as question-answering there too.
    assert task("TapasForQuestionAnswering") == "question-answering"
    assert task("GPT2LMHeadModel") == "text-generation"
    assert task("T5ForConditionalGeneration") == "text2text-generation"
    with pytest.raises(handlerhost.InferenceError, match=r"Task couldn't be inferenced from BertModel.*HF_TASK"):
        task("BertModel")


# -- the handler chain in a host, with the user's inference.py ------------------------------------------------

# A pipeline stand-in that needs no transformers: what the default predict_fn does with inputs and parameters
# shows in its answer.
CALLABLE_MODEL = '''\
import json
import os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "labels.json")) as handle:
        labels = json.load(handle)
    def pipeline(inputs, **parameters):
        texts = inputs if isinstance(inputs, list) else [inputs]
        top = parameters.get("top_k")
        # As text-classification: one dict per text, or a list of top_k of them when top_k is given.
        answers = [[{"label": labels[len(text) % len(labels)], "score": 1.0, "rank": rank} for rank in range(top or 1)]
                   for text in texts]
        return answers if top else [answer[0] for answer in answers]
    return pipeline
'''

OVERRIDES = CALLABLE_MODEL + '''
def input_fn(input_data, content_type, context):
    # The toolkit hands JSON and CSV bodies over as str, and a context to a handler that takes one.
    assert isinstance(input_data, str), type(input_data)
    assert context.system_properties["model_dir"]
    return {"inputs": json.loads(input_data)["text"].upper()}

def output_fn(prediction, accept):
    return json.dumps({"custom": prediction, "accept": accept})
'''

TRANSFORM = CALLABLE_MODEL + '''
def transform_fn(model, input_data, content_type, accept):
    return "transformed:" + input_data + ":" + str(content_type) + ":" + accept
'''


def _model(tmp_path: Path, program: str | None, python: str = "/usr/bin/python3") -> dict[str, str]:
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "labels.json").write_text(json.dumps(["NEGATIVE", "POSITIVE"]))
    if program is not None:
        (model_dir / "code" / "inference.py").write_text(program)
    return {"ModelDir": str(model_dir), "CodeDir": str(model_dir / "code"),
            "Program": "inference.py" if program is not None else "", "Framework": "huggingface",
            "Python": python}


def _ask(spec: dict[str, str], body: bytes, content_type: str, accept: str = "*/*") -> tuple[int, str, bytes]:
    models = Models.load({"variants": [{"VariantName": "AllTraffic", "Containers": [spec]}]})
    container = models.variants[0].containers[0]
    assert isinstance(container, HostedContainer)
    try:
        reply = models.respond("POST", "/invocations",
                               {"host": "127.0.0.1", "content-type": content_type, "accept": accept}, body)
        return reply.status, reply.content_type, reply.body
    finally:
        container.close()


@needs_host_python
def test_the_default_chain_passes_inputs_and_parameters_to_the_model(tmp_path: Path, host_python: str) -> None:
    spec = _model(tmp_path, CALLABLE_MODEL, host_python)
    body = json.dumps({"inputs": ["abc", "ab"], "parameters": {"top_k": 2}}).encode()
    status, content_type, answer = _ask(spec, body, "application/json")
    assert (status, content_type) == (200, "application/json")  # */* answers JSON, as the toolkit does
    assert json.loads(answer) == [[{"label": "POSITIVE", "score": 1.0, "rank": 0},
                                   {"label": "POSITIVE", "score": 1.0, "rank": 1}],
                                  [{"label": "NEGATIVE", "score": 1.0, "rank": 0},
                                   {"label": "NEGATIVE", "score": 1.0, "rank": 1}]]
    status, content_type, answer = _ask(spec, b"inputs\nabc\n", "text/csv", "text/csv")
    assert (status, content_type) == (200, "text/csv")
    assert answer.decode().splitlines() == ["label,score,rank", "POSITIVE,1.0,0"]


@needs_host_python
def test_failures_answer_400_with_the_toolkits_messages(tmp_path: Path, host_python: str) -> None:
    spec = _model(tmp_path, CALLABLE_MODEL, host_python)
    status, _, answer = _ask(spec, b"abc\n", "text/csv")
    assert status == 400 and b"correct CSV with Header columns" in answer
    status, _, answer = _ask(spec, b"x", "text/plain")
    assert status == 400 and b"Content type text/plain is not supported by this framework" in answer
    status, _, answer = _ask(spec, b'{"inputs": "a"}', "application/json", "text/html")
    assert status == 400 and b"Content type text/html is not supported" in answer


@needs_host_python
def test_user_overrides_get_the_toolkits_arguments(tmp_path: Path, host_python: str) -> None:
    status, _, answer = _ask(_model(tmp_path / "a", OVERRIDES, host_python), b'{"text": "abc"}', "application/json")
    assert status == 200, answer
    assert json.loads(answer) == {"custom": [{"label": "POSITIVE", "score": 1.0, "rank": 0}],
                                  "accept": "application/json"}
    status, content_type, answer = _ask(_model(tmp_path / "b", TRANSFORM, host_python), b"inputs\nx\n", "text/csv",
                                        "application/json")
    assert (status, content_type) == (200, "application/json")
    assert answer == b"transformed:inputs\nx\n:text/csv:application/json"
    both = TRANSFORM + "\ndef input_fn(data, content_type):\n    return data\n"
    with pytest.raises(InferenceError, match="Cannot use transform_fn implementation in conjunction with input_fn"):
        _ask(_model(tmp_path / "c", both, host_python), b"{}", "application/json")


@needs_host_python
def test_without_transformers_the_load_error_names_what_to_install(tmp_path: Path, host_python: str) -> None:
    with pytest.raises(InferenceError, match=r"needs the 'transformers' package.*huggingface framework environment"):
        _ask(_model(tmp_path, None, host_python), b"{}", "application/json")


def test_code_inference_py_is_the_program_without_sagemaker_program(tmp_path: Path) -> None:
    """The toolkit imports ``inference`` from the model's code/ whatever the environment says."""
    from stepfn.local.objectstore import ObjectStore

    model = tmp_path / "artifacts"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(CALLABLE_MODEL)
    container = {"Image": HF_INFERENCE, "ModelDataUrl": str(model), "Environment": {"HF_TASK": "text-classification"}}
    spec = prepare_container(ObjectStore(tmp_path / "store"), container, tmp_path / "work", operation="CreateModel")
    assert (spec["Framework"], spec["Program"]) == ("huggingface", "inference.py")
    assert Path(spec["CodeDir"]).name == "code"
    assert "Python" not in spec  # STEPFN_JOB_ENV=host (the tests' default): served in stepfn's Python


# -- end to end in the transformers 4.48 / PyTorch 2.3 environment -------------------------------------------

TINY_MODEL = '''\
import os, sys
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "good", "bad", "great", "awful"]
with open(os.path.join(out, "vocab.txt"), "w") as handle:
    handle.write("\\n".join(words) + "\\n")
tokenizer = BertTokenizer(os.path.join(out, "vocab.txt"))
torch.manual_seed(0)
config = BertConfig(vocab_size=len(words), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=16, max_position_embeddings=32, num_labels=2,
                    id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
BertForSequenceClassification(config).save_pretrained(out)
tokenizer.save_pretrained(out)
'''

EXPECTED = '''\
import json, sys
from transformers import pipeline

classify = pipeline("text-classification", model=sys.argv[1], tokenizer=sys.argv[1], device=-1)
print(json.dumps([classify("the movie was good"), classify("the movie was bad", top_k=2)]))
'''

USER_INFERENCE = '''\
import json
from transformers import AutoModelForSequenceClassification, AutoTokenizer

def model_fn(model_dir):
    return AutoTokenizer.from_pretrained(model_dir), AutoModelForSequenceClassification.from_pretrained(model_dir)

def predict_fn(data, model):
    tokenizer, classifier = model
    encoded = tokenizer(data["inputs"], return_tensors="pt")
    return {"logits": classifier(**encoded).logits.tolist(), "tokens": encoded["input_ids"].tolist()}
'''


def _pack(model_dir: Path, archive: Path) -> str:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)))
    return str(archive)


def _approx(value: Any) -> Any:
    if isinstance(value, float):
        return pytest.approx(value, abs=1e-5)
    if isinstance(value, list):
        return [_approx(item) for item in value]
    if isinstance(value, dict):
        return {key: _approx(item) for key, item in value.items()}
    return value


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1",
                    reason="downloads transformers and PyTorch (hundreds of MB): set STEPFN_TEST_FRAMEWORK_ENVS=1")
def test_a_tiny_bert_is_deployed_and_invoked_in_its_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stepfn.local.sagemaker.envs import ensure_environment
    from stepfn.sagemaker import Session
    from stepfn.sagemaker.huggingface import HuggingFaceModel, HuggingFacePredictor
    from stepfn.sagemaker.s3 import S3Uploader

    monkeypatch.setenv("STEPFN_JOB_ENV", "auto")  # a user's default: stepfn's Python has no transformers
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    python = ensure_environment(TABLE[("huggingface", "4.48-pytorch2.3")], print) / "bin" / "python"
    model_dir = tmp_path / "model"
    subprocess.run([str(python), "-c", TINY_MODEL, str(model_dir)], check=True, timeout=600)
    expected = json.loads(subprocess.run([str(python), "-c", EXPECTED, str(model_dir)], check=True, timeout=600,
                                         capture_output=True, text=True).stdout)
    session = Session()
    bucket = session.default_bucket()
    role = "arn:aws:iam::111122223333:role/SageMakerRole"
    versions = {"transformers_version": "4.48.0", "pytorch_version": "2.3", "py_version": "py311"}

    # No inference.py and no HF_TASK: the task comes from config.json's BertForSequenceClassification.
    data = S3Uploader.upload(_pack(model_dir, tmp_path / "model.tar.gz"), f"s3://{bucket}/hf/plain",
                             sagemaker_session=session)
    predictor = HuggingFaceModel(role=role, model_data=data, sagemaker_session=session, **versions).deploy(
        initial_instance_count=1, instance_type="ml.m5.xlarge", endpoint_name="hf-plain")
    try:
        assert isinstance(predictor, HuggingFacePredictor)
        assert predictor.predict({"inputs": "the movie was good"}) == _approx(expected[0])
        assert predictor.predict({"inputs": "the movie was bad", "parameters": {"top_k": 2}}) == _approx(expected[1])
    finally:
        predictor.delete_endpoint()

    # A user's inference.py (model_fn + predict_fn) beside the model, with HF_TASK set as notebooks do.
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(USER_INFERENCE)
    data = S3Uploader.upload(_pack(model_dir, tmp_path / "model2.tar.gz"), f"s3://{bucket}/hf/custom",
                             sagemaker_session=session)
    model = HuggingFaceModel(role=role, model_data=data, entry_point="inference.py", source_dir=str(tmp_path / "code"),
                             env={"HF_TASK": "text-classification"}, sagemaker_session=session, **versions)
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge", endpoint_name="hf-custom")
    try:
        answer = predictor.predict({"inputs": "the movie was great"})
        assert answer["tokens"] == [[2, 5, 6, 7, 10, 3]]  # [CLS] the movie was great [SEP], from the local vocab
        assert len(answer["logits"][0]) == 2
    finally:
        predictor.delete_endpoint()

    # The model's HF_TASK reaches the environment: the same BERT as a feature extractor answers embeddings.
    features = HuggingFaceModel(role=role, model_data=data, env={"HF_TASK": "feature-extraction"},
                                sagemaker_session=session, **versions)
    predictor = features.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge", endpoint_name="hf-features")
    try:
        embeddings = predictor.predict({"inputs": "the movie"})
        assert [len(embeddings[0]), len(embeddings[0][0])] == [4, 8]  # [CLS] the movie [SEP], hidden size 8
    finally:
        predictor.delete_endpoint()

    # HF_MODEL_ID without model data: the toolkit downloads the repository at start; offline that fails the
    # deploy with what to do instead.
    hub = HuggingFaceModel(role=role, env={"HF_MODEL_ID": "distilbert/distilbert-base-uncased",
                                           "HF_TASK": "fill-mask", "HF_HUB_OFFLINE": "1"},
                           sagemaker_session=session, **versions)
    with pytest.raises(Exception, match=r"Cannot download HF_MODEL_ID distilbert/distilbert-base-uncased"):
        hub.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge", endpoint_name="hf-hub")
    session.delete_endpoint("hf-hub", delete_endpoint_config=True)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1",
                    reason="downloads transformers and PyTorch (hundreds of MB): set STEPFN_TEST_FRAMEWORK_ENVS=1")
def test_a_model_without_a_task_fails_to_load_with_the_toolkits_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stepfn.local.sagemaker.envs import ensure_environment

    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    monkeypatch.delenv("HF_TASK", raising=False)
    python = ensure_environment(TABLE[("huggingface", "4.48-pytorch2.3")], print) / "bin" / "python"
    spec = {**_model(tmp_path, None), "Python": str(python)}
    with pytest.raises(InferenceError, match=r"You need to define one of the following \[.*'text-classification'.*"
                                             r"\] or text-to-image as env 'HF_TASK'"):
        _ask(spec, b"{}", "application/json")


TRAIN = '''\
import argparse, csv, os, tempfile
from datasets import Dataset
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, Trainer, TrainingArguments

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()
scratch = tempfile.mkdtemp()
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "good", "bad", "great", "awful"]
with open(os.path.join(scratch, "vocab.txt"), "w") as handle:
    handle.write("\\n".join(words) + "\\n")
tokenizer = BertTokenizer(os.path.join(scratch, "vocab.txt"))
with open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")) as handle:
    rows = list(csv.DictReader(handle))
data = Dataset.from_dict({"text": [r["text"] for r in rows], "label": [int(r["label"]) for r in rows]})
data = data.map(lambda batch: tokenizer(batch["text"], padding="max_length", max_length=8), batched=True)
config = BertConfig(vocab_size=len(words), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=16, max_position_embeddings=32, num_labels=2,
                    id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
trainer = Trainer(model=BertForSequenceClassification(config), train_dataset=data,
                  args=TrainingArguments(output_dir=scratch, num_train_epochs=args.epochs, report_to=[],
                                         per_device_train_batch_size=4, save_strategy="no"))
trainer.train()
trainer.save_model(os.environ["SM_MODEL_DIR"])
tokenizer.save_pretrained(os.environ["SM_MODEL_DIR"])
'''


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1",
                    reason="downloads transformers and PyTorch (hundreds of MB): set STEPFN_TEST_FRAMEWORK_ENVS=1")
def test_a_hugging_face_estimator_trains_and_deploys_in_its_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook flow: HuggingFace(...).fit() runs train.py (datasets, the Trainer, accelerate) in the
    transformers 4.48 image's environment, deploy() serves the trained model there with the toolkit's defaults."""
    from stepfn.sagemaker import Session
    from stepfn.sagemaker.huggingface import HuggingFace, HuggingFacePredictor

    monkeypatch.setenv("STEPFN_JOB_ENV", "auto")
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(TRAIN)
    session = Session()
    rows = "text,label\n" + "the movie was good,1\nthe movie was awful,0\nthe movie was great,1\nbad movie,0\n" * 2
    train = session.upload_string_as_file_body(rows, session.default_bucket(), "hf-train/train/train.csv")
    estimator = HuggingFace(entry_point="train.py", source_dir=str(tmp_path / "code"), py_version="py311",
                            transformers_version="4.48.0", pytorch_version="2.3", hyperparameters={"epochs": 2},
                            role="arn:aws:iam::111122223333:role/SageMakerRole", instance_type="ml.p3.2xlarge",
                            instance_count=1, sagemaker_session=session)
    estimator.fit({"train": train.rsplit("/", 1)[0]})
    assert "huggingface-pytorch-training" in estimator.training_image_uri()

    predictor = estimator.deploy(1, "ml.m5.xlarge", endpoint_name="hf-trained")
    try:
        assert isinstance(predictor, HuggingFacePredictor)
        answer = predictor.predict({"inputs": ["the movie was good", "the movie was bad"]})
        # The trained model's own answer, computed in the environment from the job's model.tar.gz.
        model_dir = tmp_path / "trained"
        with tarfile.open(session.download_data(str(tmp_path), *_bucket_key(estimator.model_data))[0]) as tar:
            tar.extractall(model_dir, filter="data")
        python = _environment_python()
        expected = subprocess.run(
            [python, "-c", "import json, sys\nfrom transformers import pipeline\n"
             "print(json.dumps(pipeline('text-classification', model=sys.argv[1], device=-1)"
             "(['the movie was good', 'the movie was bad'])))", str(model_dir)],
            check=True, timeout=600, capture_output=True, text=True).stdout
        assert answer == _approx(json.loads(expected))
    finally:
        predictor.delete_endpoint()


def _bucket_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _environment_python() -> str:
    from stepfn.local.sagemaker.envs import ensure_environment

    return str(ensure_environment(TABLE[("huggingface", "4.48-pytorch2.3")], print) / "bin" / "python")


def test_in_stepfns_own_python_the_same_toolkit_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where stepfn's Python has transformers (STEPFN_JOB_ENV=host, or auto with the image's release), the model
    server runs the handler host's toolkit in process: same codecs, same 400s."""
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    model_dir = tmp_path / "model"
    subprocess.run([sys.executable, "-c", TINY_MODEL, str(model_dir)], check=True, timeout=600)
    monkeypatch.delenv("HF_TASK", raising=False)
    models = Models.load({"variants": [{"VariantName": "AllTraffic", "Containers": [
        {"ModelDir": str(model_dir), "CodeDir": str(model_dir), "Program": None, "Framework": "huggingface",
         "Environment": {}}]}]})

    def ask(body: bytes, content_type: str, accept: str) -> Any:
        return models.respond("POST", "/invocations",
                              {"host": "127.0.0.1", "content-type": content_type, "accept": accept}, body)

    reply = ask(b'{"inputs": "the movie was good", "parameters": {"top_k": 2}}', "application/json", "*/*")
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert {answer["label"] for answer in json.loads(reply.body)} == {"NEGATIVE", "POSITIVE"}
    reply = ask(b"inputs\nthe movie\n", "text/csv", "text/csv")
    assert reply.status == 200 and reply.body.decode().splitlines()[0] == "label,score"
    reply = ask(b"x", "text/plain", "application/json")
    assert reply.status == 400 and b"not supported by this framework" in reply.body
