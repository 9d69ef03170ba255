"""Did the trained model learn from images, or does it look the dataset's labels up?

Fashion-MNIST is public: all 70,000 labels fit in a table of 640 KB, and the private images the grader
keeps back are public training images, so a ``Net`` whose ``forward`` finds each image in such a table
(a hash of its pixels, or its nearest neighbour; the table in a Python attribute or in a buffer) scores
1.0 on them without having learned anything. Three defences, decided here from data the sandbox sends:

- **the shuffled classes.** The grader has a *fresh* ``Net()`` trained by the student's own
  ``train_one_epoch`` (:func:`drlab.check.harvest.harvest_retrain`: Adam, two epochs) on training
  images whose 10 class labels it renamed by a permutation drawn from the seed — every class becomes
  another one (a derangement) — and measures that network on the private images under the same renaming.
  A network that learns from its images learns the renamed task as easily as the real one (≈ 0.75–0.8
  after 600–2,000 images; chance is 0.1); a model that answers from a table of the dataset's labels
  answers with the old names, and gets ≈ 0.
- **the copy**: a fresh ``Net()`` given the trained model's ``state_dict`` must answer as the model
  does on the private images (:func:`copy_differs`). A trained network *is* its weights; a model that
  answers from something set on it after ``Net()`` built it (the notebook's ``model`` holding a table,
  while every fresh ``Net()`` — the grader's — is an honest network that learns the renamed classes)
  does not carry it into the copy;
- **accuracies no TP1 model reaches** on images it never saw (:data:`CEILINGS`): a lookup of the public
  set is right on every private image (1.0), where the best published networks reach about 0.96 on
  Fashion-MNIST and the solution's CNN 0.93.

What these do not catch (measured in ``tests/test_check_lookup.py``): a ``Net`` whose trainable part is a
small layer *on top of* the looked-up label, the table built in ``__init__`` (it learns the renaming in a
few steps, its copy carries the table), answering wrong often enough to stay under the ceilings; or
code that tells the grader's calls from the notebook's (a hook on ``load_state_dict``, the grader's
inputs read to recover the renaming) — work aimed at the grader, as forging its data channel is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from drlab.check.harvest import RETRAIN_EPOCHS

if TYPE_CHECKING:
    from drlab.data.datasets import ImageDataset

NUM_CLASSES = 10
#: training images a fresh Net is trained on with renamed classes, by budget (the tiny budget's are
#: its 600 training images; the full budget's are drawn from the seed among the notebook's)
RETRAIN_IMAGES = {"full": 2000, "tiny": 600}
#: a fresh Net that learns from its images beats this on the renamed task (honest MLPs and CNNs reach
#: 0.73–0.81 with either budget; a table of the public labels ≈ 0; chance 0.1)
RETRAIN_MIN_ACCURACY = 0.4
#: accuracies on images a model never saw that no TP1 model reaches, by (dataset, budget); none for the
#: digits, which a good CNN may classify without a mistake
CEILINGS = {("fashion-mnist", "full"): 0.97, ("fashion-mnist", "tiny"): 0.92}
#: a fresh Net() given the model's state_dict answers as the model does on at least this share of the
#: private images (a trained network: all of them, its weights being all it is)
MIN_COPY_AGREEMENT = 0.99
#: the same for the fresh Net after its two short epochs on 600–2,000 images
RETRAIN_CEILINGS = {("fashion-mnist", "full"): 0.95, ("fashion-mnist", "tiny"): 0.95}


def derangement(seed: int) -> torch.Tensor:
    """A permutation of the 10 classes that moves every class (drawn from ``seed``)."""
    generator = torch.Generator().manual_seed(seed * 7919 + 97)
    while True:
        permutation = torch.randperm(NUM_CLASSES, generator=generator)
        if bool((permutation != torch.arange(NUM_CLASSES)).all()):
            return permutation


def add_retrain(
    tensors: dict[str, torch.Tensor],
    kept: dict[str, torch.Tensor],
    seen: ImageDataset,
    seed: int,
    budget: str,
) -> None:
    """Put the renamed training images, normalised as the notebook's (``retrain.x``, ``retrain.y``), into
    the request, and keep the renaming (``retrain.permutation``)."""
    from drlab.data.batches import Batches

    available = min(len(seen.y_train), 600) if budget == "tiny" else len(seen.y_train)
    size = min(RETRAIN_IMAGES[budget], available)
    generator = torch.Generator().manual_seed(seed * 7919 + 98)
    chosen = torch.randperm(available, generator=generator)[:size].sort().values.numpy()
    permutation = derangement(seed)
    tensors["retrain.x"] = Batches(
        seen.x_train[chosen],
        seen.y_train[chosen],
        batch_size=1000,
        mean=seen.mean,
        std=seen.std,
        shuffle=False,
    ).x
    tensors["retrain.y"] = permutation[torch.as_tensor(seen.y_train[chosen]).long()]
    kept["retrain.permutation"] = permutation


@dataclass(frozen=True)
class Retrained:
    """The fresh Net trained on renamed classes, measured on the private images under the same renaming."""

    accuracy: float
    images: int
    """training images it was given"""
    private: int
    """private images it was measured on"""


@dataclass(frozen=True)
class Suspicion:
    """Why the trained model's accuracy is not taken as learned (English, French)."""

    en: str
    fr: str


def retrained(
    frame: tuple[Mapping[str, Any], Mapping[str, torch.Tensor]] | None,
    labels: torch.Tensor,
    kept: Mapping[str, torch.Tensor],
    images: int,
) -> Retrained | Suspicion:
    """The fresh Net's accuracy on the renamed private images, from the sandbox's ``retrain`` frame."""
    if frame is None:
        return Suspicion(
            "no answer came back for the fresh Net() the checker trains with your train_one_epoch",
            "aucune réponse n'est revenue pour le Net() neuf que le correcteur entraîne avec votre "
            "train_one_epoch",
        )
    data, tensors = frame
    error = data.get("error")
    if isinstance(error, str) and error:
        text = error[:300]
        return Suspicion(
            f"the checker trains a fresh Net() with your train_one_epoch, and {text}",
            f"le correcteur entraîne un Net() neuf avec votre train_one_epoch, et {text}",
        )
    logits = tensors.get("logits.private")
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(labels), NUM_CLASSES):
        return Suspicion(
            "the fresh Net() the checker trains with your train_one_epoch gave no (N, 10) logits",
            "le Net() neuf que le correcteur entraîne avec votre train_one_epoch n'a pas donné de logits (N, 10)",
        )
    renamed = kept["retrain.permutation"][labels.long()]
    accuracy = float((logits.float().argmax(dim=1) == renamed).float().mean())
    return Retrained(accuracy, images, len(labels))


def copy_differs(
    frame: tuple[Mapping[str, Any], Mapping[str, torch.Tensor]] | None,
    model_logits: torch.Tensor,
    labels: torch.Tensor,
) -> Suspicion | None:
    """Does a fresh Net() given ``model``'s state_dict answer otherwise than ``model`` on the private
    images (from the sandbox's ``model_copy`` frame)? A trained network is its weights."""
    if frame is None:
        return Suspicion(
            "no answer came back for the copy of `model` (a fresh Net() given its state_dict)",
            "aucune réponse n'est revenue pour la copie de `model` (un Net() neuf qui reçoit son state_dict)",
        )
    data, tensors = frame
    error = data.get("error")
    if isinstance(error, str) and error:
        return Suspicion(error[:300], f"la copie de `model` a échoué : {error[:300]}")
    logits = tensors.get("logits.private")
    if not isinstance(logits, torch.Tensor) or logits.shape != model_logits.shape:
        return Suspicion(
            "a fresh Net() given `model`'s state_dict gave no logits for the checker's images",
            "un Net() neuf qui reçoit le state_dict de `model` n'a pas donné de logits pour les images du correcteur",
        )
    copied, original = logits.float().argmax(dim=1), model_logits.float().argmax(dim=1)
    agreement = float((copied == original).float().mean())
    if agreement >= MIN_COPY_AGREEMENT:
        return None
    ours = float((copied == labels).float().mean())
    theirs = float((original == labels).float().mean())
    return Suspicion(
        f"a fresh Net() given `model`'s state_dict (its parameters and buffers) answers as `model` on only "
        f"{agreement:.0%} of the images kept back ({ours:.2f} against {theirs:.2f}): what `model` answers "
        "with is not in its weights (an attribute set on it after Net() built it? a table filled later?); "
        "a trained network is its weights",
        f"un Net() neuf qui reçoit le state_dict de `model` (ses paramètres et ses buffers) ne répond comme "
        f"`model` que sur {agreement:.0%} des images gardées ({_fr(ours, 2)} contre {_fr(theirs, 2)}) : ce "
        "qui fait répondre `model` n'est pas dans ses poids (un attribut ajouté après la construction par "
        "Net() ? une table remplie plus tard ?) ; un réseau entraîné, ce sont ses poids".replace("%", " %"),
    )


def suspicion(
    dataset: str,
    budget: str,
    private_accuracy: float,
    retrain: Retrained | Suspicion,
    copy: Suspicion | None = None,
) -> Suspicion | None:
    """Why the trained model's ``private_accuracy`` is not taken as learned, or ``None``."""
    if copy is not None:
        return copy
    if isinstance(retrain, Suspicion):
        return retrain
    renamed_en = (
        f"a fresh Net() trained by your train_one_epoch ({RETRAIN_EPOCHS} epochs) on {retrain.images:,} "
        "training images whose 10 classes the checker had renamed (each class called by another's name, "
        f"drawn from --seed) gets {retrain.accuracy:.2f} on {retrain.private:,} images it kept back, "
        "renamed the same way"
    )
    renamed_fr = (
        f"un Net() neuf, entraîné par votre train_one_epoch ({RETRAIN_EPOCHS} époques) sur "
        f"{_fr_count(retrain.images)} images d'entraînement dont le correcteur avait renommé les 10 classes "
        f"(chacune appelée du nom d'une autre, tirage selon --seed), obtient {_fr(retrain.accuracy, 2)} sur "
        f"{_fr_count(retrain.private)} images gardées, renommées de la même façon"
    )
    if retrain.accuracy <= RETRAIN_MIN_ACCURACY:
        return Suspicion(
            f"{renamed_en}, where a network that learns from its images gets far above "
            f"{RETRAIN_MIN_ACCURACY} (honest MLPs and CNNs: 0.75 to 0.8; chance: 0.1): your Net answers with the "
            "dataset's labels instead of learning them from the images it is trained on",
            f"{renamed_fr}, alors qu'un réseau qui apprend de ses images dépasse nettement "
            f"{_fr(RETRAIN_MIN_ACCURACY, 1)} (des MLP et CNN honnêtes : 0,75 à 0,8 ; le hasard : 0,1) : votre Net répond avec les "
            "classes du jeu de données au lieu de les apprendre des images sur lesquelles il est entraîné",
        )
    ceiling = CEILINGS.get((dataset, budget))
    if ceiling is not None and private_accuracy > ceiling:
        return Suspicion(
            f"it gets {private_accuracy:.4f} on images it never saw, more than any model of TP1 reaches "
            f"(above {ceiling}: the best published networks reach about 0.96 on Fashion-MNIST, the "
            "solution's CNN 0.93): it recognises the dataset's images instead of classifying them",
            f"il obtient {_fr(private_accuracy, 4)} sur des images qu'il n'a jamais vues, plus qu'aucun modèle du "
            f"TP1 (au-delà de {_fr(ceiling, 2)} : les meilleurs réseaux publiés atteignent environ 0,96 sur "
            "Fashion-MNIST, le CNN du corrigé 0,93) : il reconnaît les images du jeu de données au lieu de "
            "les classer",
        )
    retrain_ceiling = RETRAIN_CEILINGS.get((dataset, budget))
    if retrain_ceiling is not None and retrain.accuracy > retrain_ceiling:
        return Suspicion(
            f"{renamed_en}: more than a network learns from so few images in so little training (the "
            f"solution's: 0.75): your Net recognises the dataset's images instead of learning to classify them",
            f"{renamed_fr} : plus qu'un réseau n'en apprend de si peu d'images en si peu d'entraînement (le "
            "corrigé : 0,75) : votre Net reconnaît les images du jeu de données au lieu d'apprendre à les classer",
        )
    return None


def _fr(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def _fr_count(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")  # a narrow no-break space between thousands, in French


__all__ = [
    "CEILINGS", "RETRAIN_IMAGES", "RETRAIN_MIN_ACCURACY", "Retrained", "Suspicion", "add_retrain",
    "copy_differs", "derangement", "retrained", "suspicion",
]  # fmt: skip
