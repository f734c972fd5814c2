"""A local emulator of the built-in BlazingText algorithm's supervised (text classification) mode, after fastText.

The real algorithm reads ``train`` (and ``validation``) channels of text, one example per line: its labels as
``__label__<name>`` tokens, then its words, separated by spaces. A model averages the embeddings of an example's
words (and hashed word n-grams with ``word_ngrams`` > 1) and classifies the average with a softmax layer, trained
with SGD whose rate decays linearly to 0 over ``epochs`` passes, as fastText does. Unlike fastText, n-grams get a
row each as they occur in the training data instead of hashing into ``buckets`` rows (two million, too many for
a laptop's memory): an n-gram never seen in training is left out of a prediction. It prints
``#train_accuracy: <value>`` and ``#validation_accuracy: <value>`` as the algorithm does (SageMaker's
``train:accuracy`` / ``validation:accuracy`` metrics read them) and writes ``model_algo-1``: the vocabulary,
labels and weights as a JSON document, not the real ``model.bin``, so the model serves locally only. The word2vec
modes (``skipgram``, ``cbow``, ``batch_skipgram``) are not emulated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stepfn.local.sagemaker.builtins.data import AlgorithmError, Environment, float_hyperparameter, int_hyperparameter

LABEL_PREFIX = "__label__"


def _examples(env: Environment, channel: str) -> list[tuple[list[str], list[str]]]:
    """``(labels, words)`` of each non-empty line of the channel's files."""
    examples = []
    for blob in env.channel_bytes(channel):
        for line in blob.decode("utf-8", errors="replace").splitlines():
            tokens = line.split()
            labels = [token for token in tokens if token.startswith(LABEL_PREFIX)]
            words = [token for token in tokens if not token.startswith(LABEL_PREFIX)]
            if labels:
                examples.append((labels, words))
    return examples


def _grams(words: list[str], ngrams: int) -> list[str]:
    """The example's words, then its word n-grams up to ``ngrams`` words long."""
    grams = list(words)
    for size in range(2, ngrams + 1):
        grams += [" ".join(words[start:start + size]) for start in range(len(words) - size + 1)]
    return grams


def features(model: dict[str, Any], words: list[str]) -> list[int]:
    """The input rows of an example: its words and n-grams that the model knows."""
    vocabulary = model["vocabulary"]
    return [vocabulary[gram] for gram in _grams(words, model["word_ngrams"]) if gram in vocabulary]


def probabilities(model: dict[str, Any], ids: list[int]) -> np.ndarray:
    """The softmax over the model's labels for an example's input rows (uniform when none is known)."""
    embeddings, output = model["_embeddings"], model["_output"]
    hidden = embeddings[ids].mean(axis=0) if ids else np.zeros(embeddings.shape[1])
    logits = output @ hidden
    exp = np.exp(logits - logits.max())
    result: np.ndarray = exp / exp.sum()
    return result


def with_arrays(model: dict[str, Any]) -> dict[str, Any]:
    """The model document with its weights as numpy arrays (``_embeddings``, ``_output``), ready to predict."""
    return {**model, "_embeddings": np.asarray(model["embeddings"]), "_output": np.asarray(model["output"])}


def _accuracy(model: dict[str, Any], examples: list[tuple[list[str], list[str]]]) -> float:
    labels = model["labels"]
    right = sum(labels[int(np.argmax(probabilities(model, features(model, words))))] in truth
                for truth, words in examples)
    return right / len(examples) if examples else 0.0


def train(env: Environment) -> None:
    mode = env.hyperparameters.get("mode", "")
    if mode != "supervised":
        raise AlgorithmError(f"ClientError: BlazingText mode {mode!r} is not emulated locally; stepfn runs its "
                             "'supervised' (text classification) mode only")
    epochs = int_hyperparameter(env, "epochs", 5)
    rate = float_hyperparameter(env, "learning_rate", 0.05)
    dim = int_hyperparameter(env, "vector_dim", 100)
    min_count = int_hyperparameter(env, "min_count", 5, minimum=0)
    ngrams = int_hyperparameter(env, "word_ngrams", 1)
    examples = _examples(env, "train")
    if not examples:
        raise AlgorithmError("ClientError: the train channel has no labelled example (lines of '__label__<name> "
                             "words...')")
    counts: dict[str, int] = {}
    for _, words in examples:
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    words_kept = sorted(word for word, count in counts.items() if count >= min_count)
    grams = sorted({gram for _, words in examples for gram in _grams(words, ngrams)[len(words):]})
    vocabulary = {gram: index for index, gram in enumerate(words_kept + grams)}
    labels = sorted({label for truth, _ in examples for label in truth})
    label_index = {label: index for index, label in enumerate(labels)}
    rng = np.random.default_rng(int(env.hyperparameters.get("_seed", "0")))
    embeddings = rng.uniform(-1 / dim, 1 / dim, size=(max(len(vocabulary), 1), dim))
    output = np.zeros((len(labels), dim))
    model = {"algorithm": "blazingtext", "mode": "supervised", "labels": labels, "vocabulary": vocabulary,
             "word_ngrams": ngrams}
    inputs = [(features(model, words), [label_index[label] for label in truth]) for truth, words in examples]
    total, step = epochs * len(inputs), 0
    for _ in range(epochs):
        for position in rng.permutation(len(inputs)):
            ids, targets = inputs[position]
            step += 1
            if not ids:
                continue
            alpha = rate * (1 - step / total)
            hidden = embeddings[ids].mean(axis=0)
            logits = output @ hidden
            exp = np.exp(logits - logits.max())
            gradient = exp / exp.sum()
            gradient[targets[0]] -= 1.0  # fastText's softmax loss trains on one of an example's labels
            hidden_gradient = output.T @ gradient
            output -= alpha * np.outer(gradient, hidden)
            np.add.at(embeddings, ids, -alpha * hidden_gradient / len(ids))
    model.update(embeddings=embeddings.tolist(), output=output.tolist())
    trained = with_arrays(model)
    print(f"Number of train examples: {len(examples)}", flush=True)
    print(f"#train_accuracy: {_accuracy(trained, examples):.4f}", flush=True)
    if env.has_channel("validation"):
        validation = _examples(env, "validation")
        print(f"Number of validation examples: {len(validation)}", flush=True)
        print(f"#validation_accuracy: {_accuracy(trained, validation):.4f}", flush=True)
    from stepfn.local.sagemaker.builtins.amazon import save_model

    save_model(env, model)


def predict(model: dict[str, Any], sentences: list[str], k: int = 1) -> list[dict[str, Any]]:
    """The algorithm's answer for each sentence: its ``k`` most likely labels and their probabilities."""
    labels = model["labels"]
    answers = []
    for sentence in sentences:
        probs = probabilities(model, features(model, sentence.split()))
        top = np.argsort(-probs, kind="stable")[:k]
        answers.append({"label": [labels[i] for i in top], "prob": [float(probs[i]) for i in top]})
    return answers
