"""The grader's messages in French (keys and fields: the same as :mod:`drlab.check.messages.en`).

The course's vocabulary, as the slides and the French notebooks write it: propagation avant, calcul de
la loss, calcul du gradient, mise à jour des paramètres, remise à zéro des gradients, fonction de perte,
epoch, batch (des batchs), labels, exactitude (for *accuracy*: "précision" is another metric).
Typography is applied when a message is rendered (:func:`drlab.check.messages.french_spacing`): the
spaces before ":", ";", "?", "!" and inside « » are written here as plain spaces.
"""

MESSAGES: dict[str, str] = {
    # ---------------------------------------------------------------------------------------------
    # The checks' titles, in report order
    "title.runs": "le notebook s'exécute de haut en bas sans erreur",
    "title.net_output": "Net() transforme un batch (B, 1, 28, 28) en logits (B, 10)",
    "title.net_logits": "Net renvoie des logits, pas des probabilités (pas de softmax avant CrossEntropyLoss)",
    "title.net_size": "Net a un nombre raisonnable de paramètres ({low:,} à {high:,})",
    "title.train_lowers_loss": "train_one_epoch fait baisser la loss sur un batch fixe",
    "title.train_zero_grad": "train_one_epoch remet les gradients à zéro et se sert de la loss_fn reçue : "
    "deux batchs donnent la mise à jour de référence",
    "title.train_returns_loss": "train_one_epoch renvoie la loss moyenne de l'epoch (un float)",
    "title.train_mode": "train_one_epoch met le modèle en mode entraînement (model.train())",
    "title.eval_accuracy": "evaluate renvoie l'exactitude sur les données reçues",
    "title.eval_mode": "evaluate met le modèle en mode évaluation (model.eval())",
    "title.eval_no_grad": "evaluate désactive le suivi des gradients (torch.no_grad())",
    "title.loss_fn": "loss_fn est une fonction de perte de classification : l'entropie croisée des logits "
    "et des labels entiers",
    "title.model_accuracy": "le modèle entraîné dépasse l'exactitude demandée sur des images qu'il n'a "
    "jamais vues",
    "title.reported_accuracy": "test_accuracy est l'exactitude du modèle entraîné sur l'ensemble de test",
    # ---------------------------------------------------------------------------------------------
    # What the notebook defines, and where
    "where.todo1": "la cellule marquée TODO 1",
    "where.todo2": "la cellule marquée TODO 2",
    "where.todo3": "la cellule marquée TODO 3",
    "where.todo4": "la cellule marquée TODO 4",
    "where.training": "la cellule d'entraînement (exécutez-la après les TODO 1 à 4)",
    "where.data": "la cellule des données (celle de l'exercice : `dataset, reason = "
    "load_tp1_dataset(BUDGET, …)`)",
    "missing": "`{name}` n'est pas défini : écrivez-le dans {where}",
    "not_callable": "`{name}` devrait être une fonction, mais c'est un objet {type}",
    "no_answer": "aucune réponse n'est revenue du bac à sable du notebook pour cette vérification : il a "
    "été arrêté ou s'est terminé avant (voir la première vérification)",
    "malformed_weights": "le bac à sable a renvoyé des poids d'une autre forme que ceux de la sonde "
    "(données invalides)",
    # ---------------------------------------------------------------------------------------------
    # The sandbox's events (drlab.check.harvest): a call of the student's code that timed out or raised
    "call.net_init": "Net()",
    "call.net_forward": "Net()(x) sur un batch de forme (5, 1, 28, 28)",
    "call.train_one_epoch": "train_one_epoch(model, batches, optimizer, loss_fn)",
    "call.evaluate": "evaluate(model, x, y)",
    "call.loss_fn": "loss_fn(logits, y_batch)",
    "sandbox.timeout": "{call} n'a pas répondu en {seconds:g} s (une boucle sans fin ?)",
    "sandbox.raised": "{call} a levé {exception}",
    "sandbox.model_timeout": "mesurer `model` sur l'ensemble de test a pris plus de {seconds:g} s",
    "sandbox.model_failed": "`model` a échoué sur les images de test : {exception}",
    "sandbox.crash": "impossible d'exécuter : {exception}",
    "sandbox.malformed": "le bac à sable a renvoyé une erreur qu'il n'a pas décrite (données invalides)",
    "sandbox.explained": "{event}. {explanation}",
    "explain.no_graph": "loss.backward() n'a trouvé aucun graphe de calcul à remonter : la propagation "
    "avant ou la loss a été calculée sous torch.no_grad() (ou détachée), et autograd n'a rien enregistré. "
    "Calculez logits = model(x_batch) et la loss hors de torch.no_grad(), qui a sa place dans evaluate",
    "explain.argmax_dim0": "argmax(dim=0) prend le plus grand score de chaque colonne — un indice par "
    "classe, 10 en tout — et non de chaque ligne : utilisez logits.argmax(dim=1), une classe prédite par "
    "image",
    "explain.bool_mean": "la comparaison donne des booléens, qui n'ont pas de moyenne : comptez-les avec "
    ".sum(), ou convertissez-les d'abord en flottants, (predictions == y).float().mean()",
    "exception": "{type}: {message}{where}",
    "exception.bare": "{type}{where}",
    "exception.where": " (dans {function}, à `{line}`)",
    # ---------------------------------------------------------------------------------------------
    # The notebook runs
    "runs.killed": "le notebook tournait encore quand son temps a expiré ({timeout:g} s de calcul, plus une "
    "minute pour démarrer ; à l'horloge autant s'il attendait, {factor:g} fois plus au plus) : tout son bac "
    "à sable a été arrêté. Une boucle sans fin ? Une cellule qui ignore les "
    "interruptions ?",
    "runs.ended": "le processus du notebook s'est terminé avant la fin de ses cellules (code de sortie "
    "{exit_code}) : os._exit ou sys.exit dans une cellule ? mémoire épuisée ? un plantage dans du code "
    "natif ?",
    "runs.timed_out": "le notebook n'a pas fini en {limit} : {where} tournait encore à la limite de "
    "temps (une boucle sans fin ? trop d'epochs pour ce budget ?) ; les vérifications ci-dessous portent "
    "sur ce qui était défini à ce moment",
    "runs.cell": "la cellule de code {number} (en comptant les cellules de code depuis le haut, pas les "
    "[n] de Jupyter)",
    "runs.cell_first_line": "la cellule de code {number} (`{first}` ; en comptant les cellules de code "
    "depuis le haut, pas les [n] de Jupyter)",
    "runs.a_cell": "une cellule",
    "runs.line": ", ligne {line}",
    "runs.raised": "{where!c}{line} a levé {error}{more}",
    "runs.raised_because": "{where!c}{line} a levé {error}{more}. L'erreur est dans {culprit} : {hint}",
    "runs.own_data": "ce notebook charge les images à sa façon ({loaders}) au lieu de passer par la cellule "
    "des données de l'exercice. Dans le bac à sable du correcteur, il n'y a ni réseau ni aucun des fichiers "
    "du jeu de données : seul le chargeur de la cellule des données, load_tp1_dataset, trouve les images "
    "(la copie du correcteur). Remplacez votre cellule des données par celle de l'exercice actuel (`from "
    "drlab.data.tp1 import load_tp1_dataset`, puis `dataset, reason = load_tp1_dataset(BUDGET, "
    'download=BUDGET != "tiny")`) et exécutez de nouveau le notebook',
    "runs.more_one": " ({more} cellule plus bas a échoué aussi)",
    "runs.limit_cpu": "{timeout:g} s de calcul",
    "runs.limit_idle": "{timeout:g} s (passées à l'horloge pendant qu'il attendait au lieu de calculer : time.sleep "
    "? un verrou ?)",
    "runs.limit_clock": "{timeout:g} s : {factor:g} fois plus ont passé à l'horloge alors qu'il calculait encore (une "
    "machine occupée à autre chose ? notez avec un --timeout plus grand)",
    "runs.more_many": " ({more} cellules plus bas ont échoué aussi)",
    "runs.ok": "{seconds:.0f} s",
    # ---------------------------------------------------------------------------------------------
    # TODO 1: Net
    "net.not_module": "`Net` doit être une classe qui hérite de nn.Module : `class Net(nn.Module): …`",
    "net.super_init": "{error} : appelez d'abord super().__init__() dans Net.__init__, avant de créer les "
    "couches (nn.Module doit s'initialiser avant de pouvoir les contenir)",
    "net.init_arguments": "{error} (Net() doit fonctionner sans argument : donnez une valeur par défaut à "
    "chacun)",
    "net.forward_shape": "{error}. Le modèle reçoit des images (B, 1, 28, 28) : aplatissez-les dans forward "
    "(nn.Flatten() ou x.flatten(1)) avant la première couche nn.Linear, qui prend alors 28·28 = 784 entrées",
    "net.not_tensor": "forward a renvoyé un objet {type} ; il doit renvoyer un tenseur de logits",
    "net.output_ok": "un batch de 5 images donne (5, 10)",
    "net.output_classes": "un batch de 5 images donne {shape} : {outputs} sorties par image, mais le TP1 a "
    "10 classes. La dernière couche doit être nn.Linear(…, 10) : un score (logit) par classe",
    "net.output_shape": "un batch de 5 images donne {shape} au lieu de (5, 10) : une ligne par image, un "
    "logit par classe. Aplatissez d'abord les images (nn.Flatten()) et terminez par nn.Linear(…, 10)",
    "net.needs_output": "demande que la sortie de Net soit un tenseur (B, 10) (voir la vérification "
    "ci-dessus)",
    "net.probabilities": "les sorties de Net sont des probabilités (chaque ligne est positive et sa somme "
    "vaut 1) : forward se termine par un softmax. nn.CrossEntropyLoss applique lui-même le log-softmax : les "
    "scores sont donc écrasés deux fois, les gradients s'aplatissent et l'apprentissage se traîne. Renvoyez "
    "les scores bruts de la dernière nn.Linear ; torch.softmax ne sert qu'à afficher des probabilités",
    "net.logits_ok": "des scores bruts, comme les attend CrossEntropyLoss",
    "net.log_probabilities_ok": "des log-probabilités (forward se termine par un log-softmax) : "
    "CrossEntropyLoss les accepte, car un log-softmax les laisse inchangées",
    "net.too_few": "Net a {count:,} paramètres entraînables : même une régression softmax (une seule "
    "nn.Linear(784, 10)) en a {softmax_regression:,}. Les couches doivent être des attributs du module "
    "(self.fc1 = nn.Linear(…)) ou se trouver dans un nn.Sequential ou un nn.ModuleList — une simple liste "
    "Python les cache à .parameters()",
    "net.too_many": "Net a {count:,} paramètres entraînables : trop pour l'entraîner sur le CPU d'un "
    "portable pendant un TP. Réduisez les couches cachées (un MLP 784-256-128-10 en a {mlp:,} ; un petit "
    "CNN, de {cnn_low:,} à {cnn_high:,})",
    "net.size_ok": "{count:,} paramètres",
    # ---------------------------------------------------------------------------------------------
    # TODO 2: train_one_epoch
    "train.never_called_model": "elle n'a jamais appelé le modèle reçu : elle en entraîne un autre (un "
    "`model` global ?). Servez-vous des arguments `model`, `optimizer` et `loss_fn`",
    "train.no_gradient": "aucun gradient n'a atteint les paramètres du modèle : il manque loss.backward(), "
    "ou le graphe de calcul est coupé entre la sortie du modèle et la loss — .detach() (puis "
    ".requires_grad_()), .item(), torch.tensor(…), .data ou torch.no_grad() autour de la propagation "
    "avant. backward() calcule alors le gradient d'une nouvelle feuille du graphe, pas celui de θ, et "
    "optimizer.step() n'a rien à appliquer. Passez logits = model(x_batch) tel quel à loss_fn",
    "train.no_step": "optimizer.step() n'a jamais été appelé sur l'optimiseur reçu : le gradient a été "
    "calculé (❸) mais les paramètres n'ont jamais été mis à jour (❹)",
    "train.gradients_wiped": "les gradients étaient vides à chaque optimizer.step() : zero_grad() est "
    "appelé entre loss.backward() et optimizer.step(), et les efface. L'ordre est ❶ propagation avant, "
    "❷ calcul de la loss, ❸ calcul du gradient, ❹ mise à jour des paramètres, puis la remise à zéro des "
    "gradients",
    "train.other_batches": "elle a entraîné le modèle sur d'autres images que les batchs reçus : une "
    "propagation avant a reçu {largest:,} images, alors que le correcteur a donné des batchs de {size:,} "
    "({given:,} images en tout). Bouclez sur `batches`, l'argument — pas sur une variable globale comme "
    "train_batches",
    "train.loss_fn_ignored": "elle n'a jamais appelé la loss_fn reçue : le correcteur lui a donné une autre "
    "fonction de perte que celle de votre notebook, et la mise à jour n'est pas celle de cette fonction. "
    "Elle calcule sa propre loss (nn.functional.cross_entropy, ou une variable globale comme votre "
    "loss_fn) : écrivez loss = loss_fn(logits, y_batch) avec l'argument `loss_fn`",
    "train.unchanged": "les paramètres du modèle reçu n'ont pas changé : entraînez le `model` et "
    "l'`optimizer` passés en arguments (pas des variables globales), et appelez optimizer.step() après "
    "loss.backward()",
    "train.not_lower": "{epochs} epochs sur un batch fixe ont mené la loss de {before:.3f} à {after:.3f} ; "
    "elle devrait baisser. Vérifiez les quatre étapes : ❶ propagation avant, ❷ calcul de la loss, "
    "❸ loss.backward(), ❹ optimizer.step()",
    "train.lowers_ok": "loss {before:.3f} → {after:.3f} en {epochs} epochs sur un batch",
    "train.reference_ok": "{batches} batchs, {optimizer} : mêmes paramètres que la référence (propagation "
    "avant, loss, gradient, mise à jour, remise à zéro)",
    "train.unchanged_two_batches": "les paramètres du modèle reçu n'ont pas changé : entraînez le `model` "
    "et l'`optimizer` passés en arguments, appelez optimizer.step() après loss.backward(), et ne remettez "
    "pas les gradients à zéro entre backward() et step()",
    "train.accumulated": "les gradients se sont accumulés : la deuxième mise à jour a utilisé la somme des "
    "gradients des deux batchs. PyTorch *ajoute* chaque backward() dans .grad (les gradients "
    "s'accumulent) : remettez-les à zéro, optimizer.zero_grad(), à chaque batch, avant loss.backward() "
    "(ou après optimizer.step())",
    "train.softmax_first": "la mise à jour est celle d'une loss calculée sur des probabilités (softmax) : "
    "passez les logits tels quels à loss_fn — nn.CrossEntropyLoss applique lui-même le log-softmax",
    "train.first_batch_only": "seul le premier batch a servi : bouclez sur chaque (x_batch, y_batch) de "
    "batches",
    "train.differs": "après une epoch de {batches} batchs ({optimizer}, pas d'apprentissage {lr:g}), les "
    "paramètres s'écartent de ceux de la référence de {gap:.2g} au plus : chaque batch doit faire "
    "exactement une propagation avant, loss_fn(logits, y_batch), loss.backward(), optimizer.step(), avec "
    "remise à zéro des gradients à chaque batch",
    "train.needs_run": "demande que train_one_epoch s'exécute (voir la vérification ci-dessus)",
    "train.returns_tensor": "elle renvoie un tenseur : renvoyez un float Python. Additionnez loss.item() "
    "sur les batchs (additionner les tenseurs de loss garderait aussi en mémoire le graphe de chaque batch)",
    "train.returns_other": "elle renvoie un objet {type} : renvoyez la loss moyenne de l'epoch, un float",
    "train.returns_infinite": "elle renvoie {value} : la loss doit être un nombre fini",
    "train.returns_ok": "{value:.4f}, la moyenne des loss des batchs",
    "train.returns_sum": "elle renvoie la somme des loss des batchs : divisez-la par le nombre de batchs",
    "train.returns_last": "elle renvoie la loss du dernier batch : renvoyez la moyenne sur tous les batchs "
    "de l'epoch",
    "train.returns_unjudged": "impossible à juger tant que l'entraînement est faux (voir plus haut) : les "
    "loss des batchs dont elle fait la moyenne en dépendent",
    "train.returns_wrong": "elle renvoie {value:.4f}, mais la moyenne des loss des batchs de l'epoch vaut "
    "{mean:.4f} : renvoyez la moyenne de loss.item() sur les batchs",
    "train.mode_malformed": "le bac à sable n'a pas renvoyé de statistiques de batch norm de la forme de "
    "celles de la sonde (données invalides)",
    "train.mode_ok": "model.train() avant la propagation avant : les statistiques de batch norm de la sonde "
    "du correcteur ont bougé comme en mode entraînement",
    "train.mode_never_called": "train_one_epoch n'a jamais appelé le modèle reçu : calculez model(x_batch)",
    "train.mode_eval": "elle ne met pas le modèle en mode entraînement : la sonde du correcteur (un petit "
    "réseau avec batch norm, laissé en mode évaluation comme evaluate() laisse un modèle) a fait toutes ses "
    "propagations avant en mode évaluation — les statistiques de batch norm de la sonde n'ont pas bougé. "
    "Appelez model.train() au début de train_one_epoch : la cellule d'entraînement appelle evaluate() après "
    "chaque epoch, et en mode évaluation le dropout ne fait rien et la batch norm normalise avec ses "
    "statistiques mémorisées au lieu de celles du batch ; un Net avec dropout ou batch norm s'entraînerait "
    "donc comme un autre réseau dès la deuxième epoch",
    "train.mode_wrong": "après un batch, les statistiques de batch norm de la sonde du correcteur ne sont "
    "pas celles d'une propagation avant en mode entraînement ({calls} appels du modèle) : appelez d'abord "
    "model.train(), puis model(x_batch) une fois par batch",
    # ---------------------------------------------------------------------------------------------
    # TODO 3: evaluate
    "evaluate.never_called": "evaluate n'a jamais appelé le modèle reçu : calculez model(x) sur le x reçu",
    "evaluate.not_number": "elle renvoie un objet {type} : renvoyez l'exactitude, un float entre 0 et 1",
    "evaluate.ok": "{value:.4f} sur {n} images du correcteur, comme la référence{big}",
    "evaluate.returns_tensor": "elle renvoie un tenseur, {value:.4f} : renvoyez un float Python, comme le "
    "dit le contrat (evaluate(model, x, y) -> float) ; .item() transforme en float un tenseur qui ne "
    "contient qu'un nombre",
    "evaluate.percentage": "elle renvoie {value:g}, un pourcentage : renvoyez une fraction entre 0 et 1 "
    "({reference})",
    "evaluate.error_rate": "elle renvoie le taux d'erreur (la proportion d'erreurs) : renvoyez la "
    "proportion de bonnes réponses",
    "evaluate.count": "elle renvoie {value:g}, le nombre de bonnes réponses : divisez-le par le nombre "
    "d'images, len(y), pour obtenir l'exactitude ({right} sur {n} ici)",
    "evaluate.zero": "elle renvoie 0, un int, alors que le modèle classe bien {right} images sur {n} : // "
    "est la division entière, qui arrondit à 0 toute fraction inférieure à 1. Divisez avec /",
    "evaluate.divided_by": "elle renvoie {value:.4f} : le nombre de bonnes réponses ({right}) divisé par "
    "{divisor:,}, et non par le nombre d'images reçues, len(y) = {n}",
    "evaluate.global_test": "elle a mesuré le modèle sur d'autres images que les {n} reçues ({seen:,} en "
    "tout) et renvoie {value:.4f}, l'exactitude sur l'ensemble de test du notebook : elle lit les variables "
    "globales x_test et y_test. Servez-vous des x et y reçus (la cellule d'entraînement l'appelle sur "
    "l'ensemble de validation après chaque epoch, sur l'ensemble de test une fois à la fin)",
    "evaluate.other_images": "elle a mesuré le modèle sur d'autres images que les {n} reçues ({seen:,} en "
    "tout) : servez-vous des x et y reçus, pas d'une variable globale comme x_train, x_val ou x_test (la "
    "cellule d'entraînement l'appelle sur l'ensemble de validation après chaque epoch, sur l'ensemble de "
    "test une fois à la fin)",
    "evaluate.flat_argmax": "sur {n} images du correcteur, elle renvoie {value:.4f}, alors que l'exactitude "
    "du modèle y est de {reference:.4f} : les prédictions viennent de logits.argmax() sans dim, qui donne "
    "UN seul indice dans tout le tenseur (B, 10) aplati, et non une classe par image. Utilisez "
    "logits.argmax(dim=1) : le plus grand score de chaque ligne",
    "evaluate.other_data": "sur {n} images du correcteur, elle renvoie {value:.4f}, alors que l'exactitude "
    "du modèle y est de {reference:.4f} : comptez les images de x dont le plus grand logit "
    "(logits.argmax(dim=1)) est égal à leur label dans y, et divisez par len(y)",
    "evaluate.big_failed": "sur {n:,} images du correcteur : {error}",
    "evaluate.big_not_number": "sur {n:,} images, elle renvoie un objet {type} : renvoyez l'exactitude, un "
    "float entre 0 et 1",
    "evaluate.big_ok": " ; et sur {n:,} images",
    "evaluate.big_chunks": "sur {n:,} images du correcteur, elle renvoie {value:.4f}, alors que l'exactitude "
    "du modèle y est de {expected:.4f} : elle fait la moyenne des exactitudes des paquets, et le dernier "
    "paquet est plus petit, donc chacune de ses images pèse davantage. Comptez les bonnes réponses sur tous "
    "les paquets, puis divisez par len(y)",
    "evaluate.big_wrong": "juste sur {small} images, mais sur {n:,} images du correcteur elle renvoie "
    "{value:.4f}, alors que l'exactitude du modèle y est de {expected:.4f} : mesurez chaque image du x reçu, "
    "et divisez par len(y)",
    "evaluate.needs_number": "demande qu'evaluate renvoie un nombre ; elle renvoie un objet {type} (voir la "
    "vérification ci-dessus)",
    "evaluate.wrong_above": "impossible à dire d'après le nombre que renvoie evaluate, qui est faux (voir "
    "plus haut)",
    "evaluate.neither": "sur {n} images d'une sonde du correcteur dont les scores changent {state}, "
    "evaluate a renvoyé {value:.4f} : ni son exactitude ({right:.4f}) ni son exactitude {state} "
    "({marked:.4f}). Mesurez le modèle sur les x et y passés en arguments",
    "evaluate.state_training": "en mode entraînement",
    "evaluate.state_autograd": "sous autograd",
    "evaluate.mode_ok": "model.eval() avant la propagation avant : une sonde dont les scores changent en "
    "mode entraînement a été mesurée en mode évaluation",
    "evaluate.mode_training": "le modèle était en mode entraînement : appelez model.eval() avant de prédire. "
    "En mode entraînement, le dropout éteint des neurones au hasard et la batch norm normalise chaque paquet "
    "avec ses propres statistiques : l'exactitude est biaisée, elle mesure un réseau affaibli",
    "evaluate.no_grad_ok": "aucun graphe construit : une sonde dont les scores changent sous autograd a été "
    "mesurée sans lui",
    "evaluate.no_grad_autograd": "autograd a enregistré la propagation avant : placez les prédictions dans "
    "un bloc `with torch.no_grad():`. L'évaluation n'a pas besoin de gradients, et le graphe de calcul "
    "coûte de la mémoire et du temps",
    # ---------------------------------------------------------------------------------------------
    # TODO 4: loss_fn
    "loss.raised_mse": "avec des logits (B, 10) et des labels entiers (B,), {raised}. MSELoss compare deux "
    "tenseurs de même forme (une régression : des prédictions qui s'approchent de nombres) ; les labels "
    "sont des numéros de classe, pas des quantités. Pour 10 classes, prenez nn.CrossEntropyLoss(), qui "
    "attend les scores bruts (logits) et les labels entiers",
    "loss.raised": "avec des logits (B, 10) et des labels entiers (B,), {raised}",
    "loss.class_not_instance": "loss_fn est une classe, pas une fonction de perte : avec `loss_fn = "
    "nn.CrossEntropyLoss` (sans parenthèses), loss_fn(logits, y_batch) tente de construire un nouvel objet, "
    "en prenant les logits et les labels pour ses options, au lieu de calculer la loss. Écrivez loss_fn = "
    "nn.CrossEntropyLoss()",
    "loss.not_number": "elle renvoie un objet {type}{shape} : elle doit renvoyer la loss moyenne du batch, "
    "un seul nombre (reduction='mean')",
    "loss.of_shape": " de forme {shape}",
    "loss.no_gradient": "sa valeur est bien l'entropie croisée, mais aucun gradient ne remonte jusqu'aux "
    "logits : la loss a été coupée du graphe de calcul (.item(), torch.tensor(…), .detach()). Renvoyez le "
    "tenseur que donne nn.CrossEntropyLoss()",
    "loss.ok": "{value:.4f} : l'entropie croisée des logits du correcteur, avec son gradient",
    "loss.nll_log_softmax_ok": "{value:.4f} : NLLLoss, avec un Net qui se termine par un log-softmax — les "
    "deux ensemble calculent l'entropie croisée (nn.CrossEntropyLoss() sur les logits bruts fait de même en "
    "une seule étape)",
    "loss.mse": "c'est l'erreur quadratique moyenne contre des vecteurs one-hot : la MSE compare deux "
    "tenseurs de même forme (une régression) et demande à chacun des 10 scores de valoir 0 ou 1 — rien n'en "
    "fait des probabilités, et une bonne réponse est punie d'être trop sûre d'elle. Pour 10 classes, prenez "
    "nn.CrossEntropyLoss(), qui attend les scores bruts (logits) et les labels entiers",
    "loss.softmax": "elle applique un softmax avant CrossEntropyLoss : les scores sont écrasés deux fois, "
    "car CrossEntropyLoss applique lui-même le log-softmax. La loss ne peut alors pas descendre sous "
    "≈ {floor:.2f} (log(1 + 9/e)) et ses gradients s'aplatissent : passez directement les logits à "
    "nn.CrossEntropyLoss()",
    "loss.nll": "c'est NLLLoss sur des scores qui ne sont pas des log-probabilités : NLLLoss se contente de "
    "prendre −score[vraie classe] et attend la sortie d'un log_softmax. nn.CrossEntropyLoss() fait "
    "log-softmax puis NLLLoss en une seule fois : donnez-lui les logits",
    "loss.sum": "c'est la somme des entropies croisées du batch, pas leur moyenne (reduction='sum') : la "
    "loss grandit alors avec la taille du batch, si bien que la loss d'entraînement qu'affiche le notebook "
    "vaut BATCH_SIZE fois la moyenne et ne se compare pas d'une taille de batch à l'autre. Avec Adam, "
    "l'optimiseur du TP, un facteur constant ne change presque pas les pas (Adam divise chaque gradient par "
    "sa propre taille moyenne), mais ce facteur change avec le dernier batch de chaque epoch, plus petit, "
    "dont le pas est pondéré autrement ; avec SGD, chaque pas grandirait avec la taille du batch. Prenez "
    "nn.CrossEntropyLoss() (reduction='mean') : la loss moyenne du batch, comme le demande le contrat",
    "loss.bce": "c'est une entropie croisée binaire contre des vecteurs one-hot : 10 questions oui/non "
    "indépendantes, et non un choix parmi 10 classes. Prenez nn.CrossEntropyLoss() sur les logits et les "
    "labels entiers",
    "loss.other": "sur les logits et les labels du correcteur, elle donne {value:.4f}, alors que l'entropie "
    "croisée vaut {cross_entropy:.4f} : prenez nn.CrossEntropyLoss() sur les logits bruts et les labels "
    "entiers",
    # ---------------------------------------------------------------------------------------------
    # The training cell: model and test_accuracy
    "model.not_module": "`model` devrait être le Net entraîné (un nn.Module), mais c'est un objet {type}",
    "model.not_net": "`model` est un {type}, pas une instance de votre Net : la cellule d'entraînement doit "
    "entraîner model = Net()",
    "model.size": "`model` a {count:,} paramètres entraînables : un Net du TP1 en a de {low:,} à {high:,}",
    "model.no_logits": "`model` n'a pas donné de logits (N, 10) pour les {n:,} images du correcteur (il a "
    "donné : {got})",
    "model.nothing": "rien",
    "model.not_normalised": "les images ne sont pas normalisées : {name} a une moyenne de {mean:.2f}, un "
    "écart-type de {std:.2f} et des valeurs dans [{low:.2f}, {high:.2f}], alors que des images normalisées "
    "ont une moyenne proche de 0 et un écart-type proche de 1. Le modèle a appris sur des entrées d'une "
    "autre échelle que les images de test normalisées ((pixel/255 − moyenne)/écart-type, comme le calcule "
    "Batches avec mean=dataset.mean, std=dataset.std) que le correcteur lui donne : son exactitude y diffère "
    "de celle que vous avez mesurée. Normalisez toutes les parties de la même façon, et entraînez de nouveau",
    "model.private_images": "{n:,} images de {dataset} qu'il n'a jamais vues (mises de côté par le "
    "correcteur)",
    "model.looks_up": "`model` obtient {public:.4f} sur les images de test publiques, mais {private:.4f} "
    "sur {where} : il reconnaît les images de test publiques au lieu de les classer",
    "model.ok": "{accuracy:.4f} sur {where}, au-dessus de {threshold}",
    "model.below_inputs": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : {inputs}",
    "model.below_training_wrong": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : "
    "l'entraînement est faux (voir plus haut)",
    "model.below": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : entraînez "
    "pendant plus d'epochs, réglez le pas d'apprentissage, ou essayez un CNN (celui du corrigé atteint "
    "{solution} sur Fashion-MNIST)",
    "model.below_own_data": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : le "
    "notebook charge ses images à sa façon ({loaders}), et non par la cellule des données de l'exercice ; "
    "il s'est donc entraîné sur d'autres images que celles du correcteur. Remplacez votre cellule des "
    "données par celle de l'exercice actuel, qui appelle load_tp1_dataset : dans le bac à sable du "
    "correcteur, seul ce chargeur trouve les images",
    "model.below_shrunk": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : la "
    "première couche de Net reçoit les images environ {factor:.0f} fois plus petites que forward ne les "
    "reçoit — forward les divise une seconde fois (x / 255 ?). Batches les a déjà mises à l'échelle et "
    "normalisées ((pixel/255 − moyenne)/écart-type) : passez x tel quel à la première couche",
    "model.below_labels": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : sur "
    "{sampled} images d'entraînement dont il a appris (les premières de train_batches), {wrong} portent un "
    "autre label que le leur dans le jeu de données — les images et les labels ont été mélangés séparément. "
    "Mélangez-les ensemble (une seule permutation pour les deux), ou laissez Batches s'en charger",
    "model.below_diverged": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : la "
    "loss d'entraînement est montée jusqu'à {peak:.4g}, alors qu'un modèle qui donne la même probabilité à "
    "chaque classe a {chance:.2f}{lr}. Un pas d'apprentissage trop grand fait dépasser le minimum à chaque "
    "pas : reprenez le `LR = 1e-3` de la cellule d'entraînement pour Adam",
    "model.lr": " (pas d'apprentissage {lr:g})",
    "model.not_counted": "l'exactitude de `model` n'est pas retenue : {why}",
    "model.not_counted_training": "l'exactitude de `model` n'est pas retenue (l'entraînement est faux, voir plus haut) : {why}",
    "integrity.original_labels": "`model` répond avec les classes du jeu de données public : il donne à {original:.2f} des "
    "images gardées la classe que leur donne le jeu de données, mais à {renamed:.2f} celle qu'elles portent "
    "dans les données reçues par ce notebook, où le correcteur avait renommé les 10 classes (chacune porte "
    "le numéro d'une autre, tirage selon --seed). Un réseau apprend les numéros avec lesquels on "
    "l'entraîne : un modèle qui répond avec les anciens les cherche dans une table du jeu de données (ou "
    "a été entraîné sur des données chargées ailleurs que par load_tp1_dataset)",
    "integrity.ceiling": "il obtient {accuracy:.4f} sur des images qu'il n'a jamais vues, plus qu'aucun modèle du TP1 "
    "(au-delà de {ceiling:.2f} : les meilleurs réseaux publiés atteignent environ {best:.2f} sur "
    "Fashion-MNIST, le CNN du corrigé {solution:.2f}) : il reconnaît les images du jeu de données "
    "au lieu de les classer",
    "reported.needs_model": "demande le `model` entraîné (voir la vérification ci-dessus)",
    "reported.not_number": "`test_accuracy` devrait être un nombre, mais c'est un objet {type}",
    "reported.ok": "{value:.4f}, comme le mesure le correcteur ({private:.4f} sur les images qu'il a mises "
    "de côté)",
    "reported.looks_up": "`model` ne classe pas les images de test (voir la vérification ci-dessus)",
    "reported.inputs": "test_accuracy = {value:.4f}, mais le correcteur mesure {public:.4f} : {inputs}",
    "reported.own_data": "test_accuracy = {value:.4f}, mais `model` obtient {public:.4f} sur les images de "
    "test du correcteur : le notebook l'a mesurée sur les images qu'il a chargées à sa façon (voir plus "
    "haut)",
    "reported.evaluate_wrong": "test_accuracy = {value:.4f}, mais `model` obtient {public:.4f} sur "
    "l'ensemble de test : test_accuracy vient de votre evaluate, qui est faux (voir plus haut)",
    "reported.wrong": "test_accuracy = {value:.4f}, mais `model` obtient {public:.4f} sur l'ensemble de "
    "test : calculez-la avec evaluate(model, x_test, y_test) après l'entraînement — sur l'ensemble de test, "
    "pas sur les données d'entraînement ou de validation",
    # ---------------------------------------------------------------------------------------------
    # The verdicts, and the report around them
    "decide.caused_by": "conséquence de l'échec ci-dessus (« {title} »)",
    "decide.caused_by_hint": "{caused_by} : {hint}",
    "decide.named_above": "l'erreur nommée ci-dessus (« {title} »)",
    "decide.could_not": "impossible de trancher : {reason}",
    "report.title": "Vérification du TP1",
    "report.unsandboxed": "le notebook a tourné avec les droits du correcteur",
    "report.per_process": "ses limites ont porté sur chaque processus, pas sur tous ensemble (un notebook qui lance "
    "beaucoup de processus peut prendre plus que sa part de processeur et de mémoire)",
    "report.digits": "note : Fashion-MNIST n'est pas disponible ici ; notation sur les chiffres manuscrits "
    "(agrandis en 28×28)",
    "report.missing": "ce notebook ne définit pas {names} : est-ce bien le notebook du TP1, complété et "
    "exécuté dans l'ordre ? (les noms sont listés en tête de 03_tp1_fashion_mnist.ipynb)",
    "report.todos": "encore à écrire : TODO {todos} (ils lèvent encore NotImplementedError)",
    "report.budget": "budget",
    "report.all_pass": "toutes les vérifications passent",
    "report.to_fix": "{n} à corriger",
    "report.not_graded": "non noté",
    "report.score": "score : {score}/{max_score} — {verdict}",
    # ---------------------------------------------------------------------------------------------
    # A class's grading: each student's feedback page and Moodle comment, the class report, the terminal
    # the feedback page a student reads
    "feedback.title": "TP1 — retour sur votre notebook",
    "feedback.grade": "Note : {grade}/{maximum}",
    "feedback.notebook": "Notebook noté : {name}",
    "feedback.others": "Aussi dans votre remise, non notés (un seul notebook est noté par étudiant : "
    "{rule}) : {names}",
    "feedback.ignored": "Autres fichiers de votre remise (non lus) : {names}",
    "feedback.nothing": "Rien n'a été noté : {problem}",
    "feedback.checks": "Les vérifications",
    "feedback.context": "Noté sur {dataset}, budget {budget}, graine {seed}.",
    "feedback.accuracy": "Exactitude de votre modèle entraîné sur des images qu'il n'a jamais vues, mesurée "
    "par le correcteur : {accuracy:.4f} (le seuil : {threshold:.2f}).",
    "feedback.rerun": "Pour vérifier vous-même votre notebook : drlab check tp1 votre_notebook.ipynb",
    "feedback.file": "tp1-retour.html",
    "pick.rule": "celui dont le nom contient « tp1 », sinon le plus récemment modifié",
    # the comment written into Moodle's Feedback comments column
    "comment.head": "TP1 (drlab check) : {score}/{max_score}",
    "comment.details": "Le détail, vérification par vérification, est dans votre fichier de retour.",
    # the class report
    "class.title": "TP1 — rapport de la classe",
    "class.sub": "{count} remises notées{context}.",
    "class.from_csv": " (d'après {csv})",
    "class.scores": "Scores",
    "class.scores_text": "Moyenne {mean:.1f}/{max_score}, médiane {median:g}/{max_score} ; {passed} sur "
    "{count} passent toutes les vérifications.",
    "class.checks": "Vérifications",
    "class.check": "vérification",
    "class.passed": "réussie",
    "class.rate": "taux",
    "class.missed": "Ce que la classe a manqué",
    "class.missed_text": "Pour chaque vérification, les causes que son indice a nommées, comptées sur les "
    "notebooks dont c'est le premier ✗ (un ✗ suivant peut être une conséquence du premier).",
    "class.cause_line": "{count} sur {total} : {cause}",
    "class.nothing_missed": "Aucune vérification n'a échoué en premier dans aucun notebook.",
    "class.trouble": "Notebooks qui n'ont pas tourné proprement",
    "class.trouble_none": "Chaque notebook a tourné, dans son bac à sable, sans plantage ni dépassement de "
    "temps.",
    "class.status": "statut",
    "class.sandbox": "bac à sable",
    "class.notebook": "notebook",
    "class.problem": "ce qui s'est passé",
    "class.seconds": "Temps par notebook",
    "class.seconds_text": "Médiane {median:.0f} s, le plus long {longest:.0f} s ({name}) ; {total:.0f} s en "
    "tout.",
    "class.alike": "Remises qui se ressemblent — à regarder",
    "class.alike_text": "Les paires dont le code propre (les cellules du notebook d'exercice retirées) est "
    "presque identique, les plus semblables d'abord. Ce n'est pas un verdict : une séance d'aide commune, un "
    "indice sur le forum ou une réponse courte rendent le code semblable. Ouvrez les deux notebooks avant "
    "toute conclusion.",
    "class.alike_none": "Aucune paire de remises n'a un code propre presque identique (similarité "
    "≥ {threshold}).",
    "class.alike_unknown": "Non calculé : il faut les notebooks (ce rapport vient d'une feuille de scores).",
    "class.similarity": "similarité",
    "class.shared": "lignes communes",
    "class.files": "Fichiers non notés",
    "class.others": "Autres notebooks d'une remise (un seul est noté par étudiant : {rule}) : {names}",
    "class.ignored": "Fichiers qui ne sont pas des notebooks (listés, jamais lus) : {names}",
    "class.skipped": "Entrées du zip ignorées :",
    "class.context": " (graine {seed}, budget {budget})",
    "class.moodle": "Moodle",
    "class.moodle_filled": "{worksheet} : lignes remplies : {filled} sur {total} ; les autres sont laissées "
    "telles quelles (pas de remise).",
    "class.moodle_missing": "Remises sans ligne dans la feuille de notes (non importées) : {names}",
    "class.plot_scores": "score",
    "class.plot_students": "notebooks",
    "class.plot_rate": "part des notebooks qui passent",
    "class.plot_seconds": "secondes",
    "status.ok": "a tourné",
    "status.cell-errors": "une cellule a levé une erreur",
    "status.timeout": "temps dépassé",
    "status.killed": "arrêté (limite de temps, de mémoire ou de sortie)",
    "status.checks-failed": "arrêté avant la fin des vérifications",
    "status.unreadable": "non noté",
    "class.not_sandboxed": "sans bac à sable",
    # the terminal
    "say.worksheet": "feuille de notes remplie : {path} (lignes remplies : {filled} sur {total} ; les "
    "autres telles quelles)",
    "say.no_feedback_column": "note : la feuille n'a pas de colonne « {name} » (activez les commentaires "
    "de feedback du devoir pour les importer) : seules les notes sont remplies",
    "say.not_in_sheet": "attention : remises sans ligne dans la feuille, non importées ({count}) : {names}",
    "say.feedback_zip": "fichiers de feedback pour Moodle : {path} (pages : {count})",
    "say.feedback_dir": "pages de retour : {path} (pages : {count})",
    "say.report": "rapport de la classe : {path}",
    "say.scores": "scores écrits dans {path}",
    "say.skipped": "attention : entrées des remises ignorées ({count}) : {names}",
    "say.several": "note : remises avec plusieurs notebooks : {count} ; noté : {rule} (les autres sont "
    "listés dans le rapport)",
    "say.interrupted": "interrompu : {done} sur {total} notés ; {path} les contient ; ni feuille de notes, "
    "ni retours, ni rapport écrits",
}
