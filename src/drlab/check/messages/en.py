"""The grader's messages in English (keys and fields: the same as :mod:`drlab.check.messages.fr`)."""

MESSAGES: dict[str, str] = {
    # ---------------------------------------------------------------------------------------------
    # The checks' titles, in report order
    "title.runs": "the notebook runs top to bottom without errors",
    "title.net_output": "Net() maps a batch (B, 1, 28, 28) to (B, 10) logits",
    "title.net_logits": "Net returns logits, not probabilities (no softmax before CrossEntropyLoss)",
    "title.net_size": "Net has a sane number of parameters ({low:,} to {high:,})",
    "title.train_lowers_loss": "train_one_epoch lowers the loss on a fixed batch",
    "title.train_zero_grad": "train_one_epoch zeroes the gradients and uses the loss_fn it is given: two "
    "batches give the reference update",
    "title.train_returns_loss": "train_one_epoch returns the epoch's mean loss as a float",
    "title.train_mode": "train_one_epoch puts the model in training mode (model.train())",
    "title.eval_accuracy": "evaluate returns the accuracy on the data it is given",
    "title.eval_mode": "evaluate puts the model in evaluation mode (model.eval())",
    "title.eval_no_grad": "evaluate turns gradient tracking off (torch.no_grad())",
    "title.loss_fn": "loss_fn is the loss of a classification: cross-entropy of the logits and integer labels",
    "title.model_accuracy": "the trained model beats the stated accuracy on images it never saw",
    "title.reported_accuracy": "test_accuracy is the trained model's accuracy on the test set",
    # ---------------------------------------------------------------------------------------------
    # What the notebook defines, and where
    "where.todo1": "the cell marked TODO 1",
    "where.todo2": "the cell marked TODO 2",
    "where.todo3": "the cell marked TODO 3",
    "where.todo4": "the cell marked TODO 4",
    "where.training": "the training cell (run it after TODO 1–4)",
    "where.data": "the data cell (the exercise's `dataset, reason = load_tp1_dataset(BUDGET, …)`)",
    "missing": "`{name}` is not defined: write it in {where}",
    "not_callable": "`{name}` should be a function, found {type}",
    "no_answer": "no answer came back from the notebook's sandbox for this check: it was stopped or ended "
    "before (see the first check)",
    "malformed_weights": "the sandbox sent back weights of another shape than the probe's (malformed data)",
    # ---------------------------------------------------------------------------------------------
    # The sandbox's events (drlab.check.harvest): a call of the student's code that timed out or raised
    "call.net_init": "Net()",
    "call.net_forward": "Net()(x) on a batch of shape (5, 1, 28, 28)",
    "call.train_one_epoch": "train_one_epoch(model, batches, optimizer, loss_fn)",
    "call.evaluate": "evaluate(model, x, y)",
    "call.loss_fn": "loss_fn(logits, y_batch)",
    "sandbox.timeout": "{call} did not return within {seconds:g} s (an endless loop?)",
    "sandbox.raised": "{call} raised {exception}",
    "sandbox.model_timeout": "measuring `model` on the test set took more than {seconds:g} s",
    "sandbox.model_failed": "`model` failed on the test images: {exception}",
    "sandbox.crash": "could not run: {exception}",
    "sandbox.malformed": "the sandbox sent back an error it did not describe (malformed data)",
    "sandbox.explained": "{event}. {explanation}",
    "explain.no_graph": "loss.backward() found no computation graph to go back through: the forward pass or "
    "the loss was computed under torch.no_grad() (or detached), so autograd recorded nothing. Compute "
    "logits = model(x_batch) and the loss outside torch.no_grad(), which belongs in evaluate",
    "explain.argmax_dim0": "argmax(dim=0) takes the largest score of each column — one index per class, 10 "
    "of them — not of each row: use logits.argmax(dim=1), one predicted class per image",
    "explain.bool_mean": "the comparison gives booleans, which have no mean: count them with .sum(), or "
    "make them floats first, (predictions == y).float().mean()",
    "exception": "{type}: {message}{where}",
    "exception.bare": "{type}{where}",
    "exception.where": " (in {function}, at `{line}`)",
    # ---------------------------------------------------------------------------------------------
    # The notebook runs
    "runs.killed": "the notebook was still running when its time was up ({timeout:g} s of computing, and a "
    "minute to start; on the clock as long if it was waiting, {factor:g} times as long at most): everything "
    "in its sandbox was stopped. An endless loop? A cell that ignores interrupts?",
    "runs.ended": "the notebook's process ended before its cells were done (exit status {exit_code}): "
    "os._exit or sys.exit in a cell? out of memory? a crash in native code?",
    "runs.timed_out": "the notebook did not finish within {limit}: {where} was still running when "
    "the time limit came (an endless loop? too many epochs for this budget?); the checks below ran on "
    "what was defined by then",
    "runs.cell": "code cell {number} (counting the code cells from the top, not Jupyter's [n])",
    "runs.cell_first_line": "code cell {number} (`{first}`; counting the code cells from the top, not "
    "Jupyter's [n])",
    "runs.a_cell": "a cell",
    "runs.line": ", line {line}",
    "runs.raised": "{where}{line} raised {error}{more}",
    "runs.raised_because": "{where}{line} raised {error}{more}. The mistake is in {culprit}: {hint}",
    "runs.own_data": "this notebook loads the images its own way ({loaders}) instead of through the "
    "exercise's data cell. In the checker's sandbox there is no network and none of the dataset's own "
    "files: only the data cell's loader, load_tp1_dataset, finds the images (the checker's copy of the "
    "dataset). Replace your data cell with the current exercise's (`from drlab.data.tp1 import "
    'load_tp1_dataset`, then `dataset, reason = load_tp1_dataset(BUDGET, download=BUDGET != "tiny")`) and '
    "run the notebook again",
    "runs.more_one": " ({more} later cell failed too)",
    "runs.limit_cpu": "{timeout:g} s of computing",
    "runs.limit_idle": "{timeout:g} s (they passed on the clock while it was waiting, not computing: time.sleep? a "
    "lock?)",
    "runs.limit_clock": "{timeout:g} s: {factor:g} times as long passed on the clock though it kept computing (a "
    "machine busy with other work? grade with a larger --timeout)",
    "runs.more_many": " ({more} later cells failed too)",
    "runs.ok": "{seconds:.0f} s",
    # ---------------------------------------------------------------------------------------------
    # TODO 1: Net
    "net.not_module": "`Net` must be a class that inherits from nn.Module: `class Net(nn.Module): …`",
    "net.super_init": "{error}: call super().__init__() first in Net.__init__, before creating the layers "
    "(nn.Module must set itself up before it can hold them)",
    "net.init_arguments": "{error} (Net() must work without arguments: give every argument a default)",
    "net.forward_shape": "{error}. The model receives images (B, 1, 28, 28): flatten them inside forward "
    "(nn.Flatten() or x.flatten(1)) before the first nn.Linear, which then takes 28·28 = 784 inputs",
    "net.not_tensor": "forward returned {type}; it must return a tensor of logits",
    "net.output_ok": "a batch of 5 images gives (5, 10)",
    "net.output_classes": "a batch of 5 images gives {shape}: {outputs} outputs per image, but TP1 has 10 "
    "classes. The last layer must be nn.Linear(…, 10): one score (logit) per class",
    "net.output_shape": "a batch of 5 images gives {shape}, expected (5, 10): one row per image, one logit "
    "per class. Flatten the images first (nn.Flatten()) and end with nn.Linear(…, 10)",
    "net.needs_output": "needs Net's output to be a (B, 10) tensor (see the check above)",
    "net.probabilities": "Net's outputs are probabilities (every row is ≥ 0 and sums to 1): forward ends "
    "with a softmax. nn.CrossEntropyLoss applies log-softmax itself, so the scores are squashed twice: the "
    "gradients flatten and learning crawls. Return the raw scores of the last nn.Linear; use torch.softmax "
    "only to display probabilities",
    "net.logits_ok": "raw scores, as CrossEntropyLoss expects",
    "net.log_probabilities_ok": "log-probabilities (forward ends with a log-softmax): CrossEntropyLoss "
    "accepts them, since a log-softmax leaves them unchanged",
    "net.too_few": "Net has {count:,} trainable parameters: even softmax regression (one nn.Linear(784, 10)) "
    "has {softmax_regression:,}. Layers must be attributes of the module (self.fc1 = nn.Linear(…)) or in an "
    "nn.Sequential / nn.ModuleList — a plain Python list hides them from .parameters()",
    "net.too_many": "Net has {count:,} trainable parameters: too many to train on a laptop CPU during a TP. "
    "Shrink the hidden layers (a 784-256-128-10 MLP has {mlp:,}; a small CNN {cnn_low:,} to {cnn_high:,})",
    "net.size_ok": "{count:,} parameters",
    # ---------------------------------------------------------------------------------------------
    # TODO 2: train_one_epoch
    "train.never_called_model": "it never called the model it was given: it trains another one (a global "
    "`model`?). Use the `model`, `optimizer` and `loss_fn` passed as arguments",
    "train.no_gradient": "no gradient reached the model's parameters: loss.backward() is missing, or the "
    "computation graph between the model's output and the loss is cut — .detach() (then "
    ".requires_grad_()), .item(), torch.tensor(…), .data or torch.no_grad() around the forward pass. "
    "backward() then computes the gradient of a new leaf, not of θ, and optimizer.step() has nothing to "
    "apply. Pass logits = model(x_batch) to loss_fn untouched",
    "train.no_step": "optimizer.step() was never called on the optimizer it was given: the gradients were "
    "computed (❸) but the parameters never updated (❹ mise à jour des paramètres)",
    "train.gradients_wiped": "the gradients were empty at every optimizer.step(): zero_grad() runs between "
    "loss.backward() and optimizer.step(), and wipes them. The order is ❶ forward, ❷ loss, ❸ backward, "
    "❹ step, then zero_grad()",
    "train.other_batches": "it trained the model on other images than the batches it was given: one forward "
    "pass received {largest:,} images, where the checker gave batches of {size:,} ({given:,} images in "
    "all). Loop over `batches`, the argument — not over a global such as train_batches",
    "train.loss_fn_ignored": "it never called the loss_fn it was given: the checker gave it another loss "
    "than your notebook's, and the update is not that loss's. It computes a loss of its own "
    "(nn.functional.cross_entropy, or a global such as your loss_fn): write loss = loss_fn(logits, y_batch) "
    "with the `loss_fn` argument",
    "train.unchanged": "the parameters of the model it was given did not change: train the `model` and "
    "`optimizer` passed as arguments (not global ones), and call optimizer.step() after loss.backward()",
    "train.not_lower": "{epochs} epochs on one fixed batch took the loss from {before:.3f} to {after:.3f}; "
    "it should fall. Check the four steps: ❶ forward, ❷ loss, ❸ loss.backward(), ❹ optimizer.step()",
    "train.lowers_ok": "loss {before:.3f} → {after:.3f} in {epochs} epochs on one batch",
    "train.reference_ok": "{batches} batches, {optimizer}: same parameters as the reference (forward, loss, "
    "backward, step, zero_grad)",
    "train.unchanged_two_batches": "the parameters of the model it was given did not change: train the "
    "`model` and `optimizer` passed as arguments, call optimizer.step() after loss.backward(), and do not "
    "zero the gradients between backward() and step()",
    "train.accumulated": "the gradients accumulated: the second step used the sum of both batches' "
    "gradients. PyTorch *adds* each backward() into .grad: call optimizer.zero_grad() at every batch, "
    "before loss.backward() (or after optimizer.step())",
    "train.softmax_first": "the update is the one of a loss computed on softmax probabilities: pass the "
    "logits straight to loss_fn — nn.CrossEntropyLoss applies log-softmax itself",
    "train.first_batch_only": "only the first batch was used: loop over every (x_batch, y_batch) in batches",
    "train.differs": "after one epoch of {batches} batches ({optimizer}, lr {lr:g}) the parameters differ "
    "from the reference's by up to {gap:.2g}: each batch must do exactly one forward, loss_fn(logits, "
    "y_batch), loss.backward(), optimizer.step(), with the gradients zeroed at every batch",
    "train.needs_run": "needs train_one_epoch to run (see the check above)",
    "train.returns_tensor": "it returns a tensor: return a Python float. Add up loss.item() over the "
    "batches (keeping the loss tensors would also keep every batch's graph in memory)",
    "train.returns_other": "it returns {type}: return the mean loss of the epoch, a float",
    "train.returns_infinite": "it returns {value}: the loss must be a finite number",
    "train.returns_ok": "{value:.4f}, the mean of the batch losses",
    "train.returns_sum": "it returns the sum of the batch losses: divide by the number of batches",
    "train.returns_last": "it returns the last batch's loss: return the mean over all the batches of the "
    "epoch",
    "train.returns_unjudged": "cannot be judged while the training is wrong (see above): the batch losses "
    "it averages depend on it",
    "train.returns_wrong": "it returns {value:.4f}, but the mean of the epoch's batch losses is "
    "{mean:.4f}: return the average of loss.item() over the batches",
    "train.mode_malformed": "the sandbox sent back no batch-norm statistics of the probe's shape "
    "(malformed data)",
    "train.mode_ok": "model.train() before the forward pass: the batch-norm statistics of the checker's "
    "probe moved as in training mode",
    "train.mode_never_called": "train_one_epoch never called the model it was given: compute model(x_batch)",
    "train.mode_eval": "it does not put the model in training mode: the checker's probe (a small network "
    "with batch norm, left in evaluation mode as evaluate() leaves a model) ran every forward pass in "
    "evaluation mode — the probe's batch-norm statistics did not move. Call model.train() at the start of "
    "train_one_epoch: the training cell calls evaluate() after every epoch, and in evaluation mode dropout "
    "does nothing and batch norm normalises with its stored statistics instead of the batch's, so a Net "
    "with dropout or batch norm would train as another network from the second epoch on",
    "train.mode_wrong": "after one batch, the batch-norm statistics of the checker's probe are not those of "
    "one forward pass in training mode ({calls} forward calls were made): call model.train() first, then "
    "model(x_batch) once per batch",
    # ---------------------------------------------------------------------------------------------
    # TODO 3: evaluate
    "evaluate.never_called": "evaluate never called the model it was given: compute model(x) on the x it "
    "receives",
    "evaluate.not_number": "it returns {type}: return the accuracy, a float in [0, 1]",
    "evaluate.ok": "{value:.4f} on {n} images of the checker, as the reference{big}",
    "evaluate.returns_tensor": "it returns a tensor, {value:.4f}: return a Python float, as the contract "
    "says (evaluate(model, x, y) -> float): .item() turns a one-number tensor into one",
    "evaluate.percentage": "it returns {value:g}, a percentage: return a fraction in [0, 1] ({reference})",
    "evaluate.error_rate": "it returns the error rate (the fraction of mistakes): return the fraction of "
    "right answers",
    "evaluate.count": "it returns {value:g}, the number of right answers: divide it by the number of "
    "images, len(y), for the accuracy ({right} of {n} here)",
    "evaluate.zero": "it returns 0, an int, where the model gets {right} of {n} images right: // is integer "
    "division, which rounds any fraction below 1 down to 0. Divide with /",
    "evaluate.divided_by": "it returns {value:.4f}: the number of right answers ({right}) divided by "
    "{divisor:,}, not by the number of images it was given, len(y) = {n}",
    "evaluate.global_test": "it measured the model on other images than the {n} it was given ({seen:,} in "
    "all), and returns {value:.4f}: the accuracy on the notebook's test set. It reads the globals x_test "
    "and y_test: use the x and y it receives (the training cell calls it on the validation set after every "
    "epoch, on the test set once at the end)",
    "evaluate.other_images": "it measured the model on other images than the {n} it was given ({seen:,} in "
    "all): use the x and y it receives, not a global such as x_train, x_val or x_test (the training cell "
    "calls it on the validation set after every epoch, on the test set once at the end)",
    "evaluate.flat_argmax": "on {n} images of the checker it returns {value:.4f}, but the model gets "
    "{reference:.4f} right: the predictions come from logits.argmax() without dim, which gives ONE index "
    "into the whole flattened (B, 10) tensor, not one class per image. Use logits.argmax(dim=1): the "
    "largest score of each row",
    "evaluate.other_data": "on {n} images of the checker it returns {value:.4f}, but the model gets "
    "{reference:.4f} of them right: count the images of x whose largest logit (logits.argmax(dim=1)) equals "
    "their label in y, and divide by len(y)",
    "evaluate.big_failed": "on {n:,} images of the checker: {error}",
    "evaluate.big_not_number": "on {n:,} images it returns {type}: return the accuracy, a float in [0, 1]",
    "evaluate.big_ok": "; and on {n:,} images",
    "evaluate.big_chunks": "on {n:,} images of the checker it returns {value:.4f}, but the model gets "
    "{expected:.4f} right: it averages the accuracies of the chunks, and the last chunk is smaller, so each "
    "of its images weighs more. Count the right answers over all chunks, then divide by len(y)",
    "evaluate.big_wrong": "on {small} images it is right, but on {n:,} images of the checker it returns "
    "{value:.4f} where the model gets {expected:.4f} right: measure every image of the x it is given, and "
    "divide by len(y)",
    "evaluate.needs_number": "needs evaluate to return a number; it returns {type} (see the check above)",
    "evaluate.wrong_above": "cannot be told from the number evaluate returns, which is wrong (see above)",
    "evaluate.neither": "on {n} images of a probe of the checker whose scores move {state}, evaluate "
    "returned {value:.4f}: neither its accuracy ({right:.4f}) nor its accuracy {state} ({marked:.4f}). "
    "Measure the model on the x and y passed as arguments",
    "evaluate.state_training": "in training mode",
    "evaluate.state_autograd": "under autograd",
    "evaluate.mode_ok": "model.eval() before the forward pass: a probe whose scores move in training mode "
    "was measured in evaluation mode",
    "evaluate.mode_training": "the model was in training mode: call model.eval() before predicting. In "
    "training mode dropout drops random units and batch norm normalises each chunk with the chunk's own "
    "statistics, so the accuracy is biased: it measures a weakened network",
    "evaluate.no_grad_ok": "no graph built: a probe whose scores move under autograd was measured without it",
    "evaluate.no_grad_autograd": "autograd recorded the forward pass: wrap the predictions in `with "
    "torch.no_grad():`. Evaluation needs no gradients, and the graph costs memory and time",
    # ---------------------------------------------------------------------------------------------
    # TODO 4: loss_fn
    "loss.raised_mse": "with logits (B, 10) and integer labels (B,), {raised}. MSELoss compares two tensors "
    "of the same shape (a regression: predictions that approach numbers); the labels are class indices, "
    "not quantities. For 10 classes use nn.CrossEntropyLoss(), which takes the raw scores (logits) and the "
    "integer labels",
    "loss.raised": "with logits (B, 10) and integer labels (B,), {raised}",
    "loss.class_not_instance": "loss_fn is a class, not a loss: with `loss_fn = nn.CrossEntropyLoss` (no "
    "parentheses), loss_fn(logits, y_batch) tries to build a new loss object, the logits and labels taken "
    "as its options, instead of computing the loss. Write loss_fn = nn.CrossEntropyLoss()",
    "loss.not_number": "it returns {type}{shape}: it must return the batch's mean loss, one number "
    "(reduction='mean')",
    "loss.of_shape": " of shape {shape}",
    "loss.no_gradient": "its value is the cross-entropy, but no gradient flows from it back to the logits: "
    "the loss was cut from the computation graph (.item(), torch.tensor(…), .detach()). Return the tensor "
    "that nn.CrossEntropyLoss() gives",
    "loss.ok": "{value:.4f}: the cross-entropy of the checker's logits, with its gradient",
    "loss.nll_log_softmax_ok": "{value:.4f}: NLLLoss, beside a Net that ends with a log-softmax — together "
    "the cross-entropy (nn.CrossEntropyLoss() on raw logits computes the same in one step)",
    "loss.mse": "it is the mean squared error against one-hot vectors: MSE compares two tensors of the "
    "same shape (a regression), and asks each of the 10 scores to hit 0 or 1 — nothing makes the scores "
    "behave like probabilities, and a right answer is punished for being too sure. For 10 classes use "
    "nn.CrossEntropyLoss(), which takes the raw scores (logits) and the integer labels",
    "loss.softmax": "it applies a softmax before CrossEntropyLoss: the scores are squashed twice, since "
    "CrossEntropyLoss applies log-softmax itself. The loss then cannot go below ≈ {floor:.2f} (log(1 + "
    "9/e)) and its gradients flatten: pass the logits to nn.CrossEntropyLoss() directly",
    "loss.nll": "it is NLLLoss on scores that are not log-probabilities: NLLLoss only picks −score[true "
    "class], it expects log_softmax outputs. nn.CrossEntropyLoss() is log-softmax + NLLLoss in one: give it "
    "the logits",
    "loss.sum": "it is the sum of the cross-entropies of the batch, not their mean (reduction='sum'): the "
    "loss then grows with the batch size, so the training loss the notebook prints is BATCH_SIZE times the "
    "mean and cannot be compared across batch sizes. With the TP's Adam a constant factor barely changes "
    "the steps (Adam divides each gradient by its own running size), but this factor changes with the last, "
    "smaller batch of each epoch, whose step is weighed differently; with SGD every step would grow with "
    "the batch size. Use nn.CrossEntropyLoss() (reduction='mean'): the batch's mean loss, as the contract "
    "asks",
    "loss.bce": "it is a binary cross-entropy against one-hot vectors: 10 independent yes/no questions, not "
    "one choice among 10 classes. Use nn.CrossEntropyLoss() on the logits and integer labels",
    "loss.other": "on the checker's logits and labels it gives {value:.4f}, where the cross-entropy is "
    "{cross_entropy:.4f}: use nn.CrossEntropyLoss() on the raw logits and the integer labels",
    # ---------------------------------------------------------------------------------------------
    # The training cell: model and test_accuracy
    "model.not_module": "`model` should be the trained Net (an nn.Module), found {type}",
    "model.not_net": "`model` is a {type}, not an instance of your Net: the training cell must train "
    "model = Net()",
    "model.size": "`model` has {count:,} trainable parameters: a TP1 Net has {low:,} to {high:,}",
    "model.no_logits": "`model` did not give (N, 10) logits for the checker's {n:,} images (got {got})",
    "model.nothing": "nothing",
    "model.not_normalised": "the images are not normalised: {name} has mean {mean:.2f}, std {std:.2f}, "
    "values in [{low:.2f}, {high:.2f}], where normalised images have a mean near 0 and a std near 1. The "
    "model learned on inputs of another scale than the normalised test images ((pixel/255 − mean)/std, as "
    "Batches computes with mean=dataset.mean, std=dataset.std) the checker gives it, so its accuracy there "
    "is not the one you measured. Normalise every split the same way, and train again",
    "model.private_images": "{n:,} images of {dataset} it never saw (kept back by the checker)",
    "model.looks_up": "`model` gets {public:.4f} on the public test images but {private:.4f} on {where}: it "
    "recognises the public test images instead of classifying them",
    "model.ok": "{accuracy:.4f} on {where}, above {threshold}",
    "model.below_inputs": "`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: {inputs}",
    "model.below_training_wrong": "`model` gets {accuracy:.4f} on {where}, which does not beat "
    "{threshold}: the training is wrong (see above)",
    "model.below": "`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: train for more "
    "epochs, tune the learning rate, or try a CNN (the solution's reaches {solution} on Fashion-MNIST)",
    "model.below_own_data": "`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: the "
    "notebook loads its images its own way ({loaders}), not through the exercise's data cell, so it trained "
    "on other images than the checker's. Replace your data cell with the current exercise's, which calls "
    "load_tp1_dataset: in the checker's sandbox only that loader finds the images",
    "model.below_shrunk": "`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: Net's "
    "first layer receives the images about {factor:.0f} times smaller than forward is given them — forward "
    "divides them again (x / 255?). Batches already scaled and normalised them ((pixel/255 − mean)/std): "
    "pass x to the first layer as it comes",
    "model.below_labels": "`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: of "
    "{sampled} images it trained on (the first of train_batches), {wrong} carry another label than theirs "
    "in the dataset — the images and the labels were shuffled apart. Shuffle them together (one permutation "
    "for both), or leave the shuffling to Batches",
    "model.below_diverged": "`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: the "
    "training loss went up to {peak:.4g}, where a model that gives every class the same probability has "
    "{chance:.2f}{lr}. A learning rate too large makes every step overshoot the minimum: use the training "
    "cell's `LR = 1e-3` for Adam",
    "model.lr": " (learning rate {lr:g})",
    "model.not_counted": "the accuracy of `model` is not counted: {why}",
    "model.not_counted_training": "the accuracy of `model` is not counted (the training is wrong, see above): {why}",
    "integrity.original_labels": "`model` answers with the public dataset's own labels: it gives {original:.2f} of the "
    "images kept back the class the dataset gives them, but {renamed:.2f} the class they carry in the "
    "data this notebook was given, where the checker had renamed the 10 classes (each class carries "
    "another's number, drawn from --seed). A network learns the numbers it is trained with: a model that "
    "answers with the old ones looks them up in a table of the dataset (or was trained on data loaded "
    "elsewhere than by load_tp1_dataset)",
    "integrity.ceiling": "it gets {accuracy:.4f} on images it never saw, more than any model of TP1 reaches (above "
    "{ceiling:.2f}: the best published networks reach about {best:.2f} on Fashion-MNIST, the "
    "solution's CNN {solution:.2f}): it recognises the dataset's images instead of classifying "
    "them",
    "reported.needs_model": "needs the trained `model` (see the check above)",
    "reported.not_number": "`test_accuracy` should be a number, found {type}",
    "reported.ok": "{value:.4f}, as measured by the checker ({private:.4f} on the images it kept back)",
    "reported.looks_up": "`model` does not classify the test images (see the check above)",
    "reported.inputs": "test_accuracy = {value:.4f}, but the checker measures {public:.4f}: {inputs}",
    "reported.own_data": "test_accuracy = {value:.4f}, but `model` gets {public:.4f} on the test images of "
    "the checker: the notebook measured it on the images it loaded its own way (see above)",
    "reported.evaluate_wrong": "test_accuracy = {value:.4f}, but `model` gets {public:.4f} on the test set: "
    "test_accuracy comes from your evaluate, which is wrong (see above)",
    "reported.wrong": "test_accuracy = {value:.4f}, but `model` gets {public:.4f} on the test set: compute "
    "it with evaluate(model, x_test, y_test) after training — on the test split, not the training or "
    "validation data",
    # ---------------------------------------------------------------------------------------------
    # The verdicts, and the report around them
    "decide.caused_by": "caused by the failure above (“{title}”)",
    "decide.caused_by_hint": "{caused_by}: {hint}",
    "decide.named_above": "the mistake named above (“{title}”)",
    "decide.could_not": "could not decide: {reason}",
    "report.title": "TP1 check",
    "report.unsandboxed": "the notebook ran with the grader's rights",
    "report.per_process": "its limits held each process, not all of them together (a notebook that starts many "
    "processes can take more CPU and memory than its share)",
    "report.digits": "note: Fashion-MNIST is not available here: graded on the digits (enlarged to 28×28)",
    "report.missing": "this notebook does not define {names}: is it the TP1 notebook, completed and run in "
    "order? (the names are listed at the top of 03_tp1_fashion_mnist.ipynb)",
    "report.todos": "still to write: TODO {todos} (they still raise NotImplementedError)",
    "report.budget": "budget",
    "report.all_pass": "all checks pass",
    "report.to_fix": "{n} to fix",
    "report.not_graded": "not graded",
    "report.score": "score: {score}/{max_score} — {verdict}",
    # ---------------------------------------------------------------------------------------------
    # A class's grading: each student's feedback page and Moodle comment, the class report, the terminal
    # the feedback page a student reads
    "feedback.title": "TP1 — feedback on your notebook",
    "feedback.grade": "Grade: {grade}/{maximum}",
    "feedback.notebook": "Notebook graded: {name}",
    "feedback.others": "Also in your submission, not graded (one notebook is graded per student: {rule}): {names}",
    "feedback.ignored": "Other files in your submission (not read): {names}",
    "feedback.nothing": "Nothing was graded: {problem}",
    "feedback.checks": "The checks",
    "feedback.context": "Graded on {dataset}, budget {budget}, seed {seed}.",
    "feedback.accuracy": "Accuracy of your trained model on images it never saw, measured by the grader: "
    "{accuracy:.4f} (the bar: {threshold:.2f}).",
    "feedback.rerun": "To check your notebook yourself: drlab check tp1 your_notebook.ipynb",
    "feedback.file": "tp1-feedback.html",
    "pick.rule": "the one whose name holds “tp1”, else the most recently modified",
    # the comment written into Moodle's Feedback comments column
    "comment.head": "TP1 (drlab check): {score}/{max_score}",
    "comment.details": "The details, check by check, are in your feedback file.",
    # the class report
    "class.title": "TP1 — class report",
    "class.sub": "{count} submissions graded{context}.",
    "class.from_csv": " (from {csv})",
    "class.scores": "Scores",
    "class.scores_text": "Mean {mean:.1f}/{max_score}, median {median:g}/{max_score}; {passed} of {count} pass every check.",
    "class.checks": "Checks",
    "class.check": "check",
    "class.passed": "passed",
    "class.rate": "rate",
    "class.missed": "What the class missed",
    "class.missed_text": "For each check, the causes its hint named, counted over the notebooks whose first ✗ it is "
    "(a later ✗ can be a consequence of the first).",
    "class.cause_line": "{count} of {total}: {cause}",
    "class.nothing_missed": "No check failed first in any notebook.",
    "class.trouble": "Notebooks that did not run cleanly",
    "class.trouble_none": "Every notebook ran, in its sandbox, without a crash or a timeout.",
    "class.status": "status",
    "class.sandbox": "sandbox",
    "class.notebook": "notebook",
    "class.problem": "what happened",
    "class.seconds": "Time per notebook",
    "class.seconds_text": "Median {median:.0f} s, longest {longest:.0f} s ({name}); {total:.0f} s in all.",
    "class.alike": "Submissions that look alike — worth a look",
    "class.alike_text": "Pairs whose own code (the exercise notebook's cells taken away) is near-identical, most "
    "similar first. Not a verdict: a shared help session, a hint on the forum or a short answer all make "
    "code alike. Open both notebooks before drawing any conclusion.",
    "class.alike_none": "No pair of submissions has near-identical code of its own (similarity ≥ {threshold}).",
    "class.alike_unknown": "Not computed: the notebooks are needed (this report was made from a score sheet).",
    "class.similarity": "similarity",
    "class.shared": "shared lines",
    "class.files": "Files not graded",
    "class.others": "Other notebooks of a submission (one is graded per student: {rule}): {names}",
    "class.ignored": "Files that are not notebooks (listed, never read): {names}",
    "class.skipped": "Entries of the zip skipped:",
    "class.context": " (seed {seed}, budget {budget})",
    "class.moodle": "Moodle",
    "class.moodle_filled": "{worksheet}: rows filled: {filled} of {total}; the others are left as they were (no "
    "submission).",
    "class.moodle_missing": "Submissions with no row in the worksheet (not imported): {names}",
    "class.plot_scores": "score",
    "class.plot_students": "notebooks",
    "class.plot_rate": "share of notebooks that pass",
    "class.plot_seconds": "seconds",
    "status.ok": "ran",
    "status.cell-errors": "a cell raised an error",
    "status.timeout": "timed out",
    "status.killed": "killed (time, memory or output limit)",
    "status.checks-failed": "stopped before the checks ended",
    "status.unreadable": "not graded",
    "class.not_sandboxed": "not sandboxed",
    # the terminal
    "say.worksheet": "filled worksheet: {path} (rows filled: {filled} of {total}; the others as they were)",
    "say.no_feedback_column": "note: the worksheet has no “{name}” column (enable Feedback comments in the "
    "assignment to import comments): only grades are filled",
    "say.not_in_sheet": "warning: submissions with no row in the worksheet, not imported ({count}): {names}",
    "say.feedback_zip": "feedback files for Moodle: {path} (pages: {count})",
    "say.feedback_dir": "feedback pages: {path} (pages: {count})",
    "say.report": "class report: {path}",
    "say.scores": "scores written to {path}",
    "say.skipped": "warning: entries of the submissions skipped ({count}): {names}",
    "say.several": "note: submissions with several notebooks: {count}; graded: {rule} (the others are listed in "
    "the report)",
    "say.interrupted": "interrupted: {done} of {total} graded; {path} holds them; no worksheet, feedback or report written",
}
