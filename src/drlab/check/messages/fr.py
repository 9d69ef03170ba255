"""The grader's messages in French (keys and fields: the same as :mod:`drlab.check.messages.en`).

The course's vocabulary: propagation avant, rétropropagation, remise à zéro des gradients, mise à jour
des paramètres, époque, perte, précision.
"""

MESSAGES: dict[str, str] = {
    # ---------------------------------------------------------------------------------------------
    # The checks' titles, in report order
    "title.runs": "le notebook s'exécute de haut en bas sans erreur",
    "title.net_output": "Net() transforme un batch (B, 1, 28, 28) en logits (B, 10)",
    "title.net_logits": "Net renvoie des logits, pas des probabilités (pas de softmax avant CrossEntropyLoss)",
    "title.net_size": "Net a un nombre raisonnable de paramètres ({low:,} à {high:,})",
    "title.train_lowers_loss": "train_one_epoch fait baisser la perte sur un batch fixe",
    "title.train_zero_grad": "train_one_epoch remet les gradients à zéro : deux batchs donnent la mise à "
    "jour de référence",
    "title.train_returns_loss": "train_one_epoch renvoie la perte moyenne de l'époque (un float)",
    "title.train_mode": "train_one_epoch met le modèle en mode entraînement (model.train())",
    "title.eval_accuracy": "evaluate renvoie la précision sur les données reçues",
    "title.eval_mode": "evaluate met le modèle en mode évaluation (model.eval())",
    "title.eval_no_grad": "evaluate désactive le suivi des gradients (torch.no_grad())",
    "title.loss_fn": "loss_fn est une perte de classification : l'entropie croisée des logits et des "
    "labels entiers",
    "title.model_accuracy": "le modèle entraîné dépasse la précision demandée sur des images qu'il n'a "
    "jamais vues",
    "title.reported_accuracy": "test_accuracy est la précision du modèle entraîné sur le test",
    # ---------------------------------------------------------------------------------------------
    # What the notebook defines, and where
    "where.todo1": "la cellule marquée TODO 1",
    "where.todo2": "la cellule marquée TODO 2",
    "where.todo3": "la cellule marquée TODO 3",
    "where.todo4": "la cellule marquée TODO 4",
    "where.training": "la cellule d'entraînement (exécutez-la après les TODO 1 à 4)",
    "missing": "`{name}` n'est pas défini : écrivez-le dans {where}",
    "not_callable": "`{name}` devrait être une fonction, trouvé {type}",
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
    "sandbox.model_timeout": "mesurer `model` sur le test a pris plus de {seconds:g} s",
    "sandbox.model_failed": "`model` a échoué sur les images de test : {exception}",
    "sandbox.crash": "impossible d'exécuter : {exception}",
    "sandbox.malformed": "le bac à sable a renvoyé une erreur qu'il n'a pas décrite (données invalides)",
    "exception": "{type}: {message}{where}",
    "exception.bare": "{type}{where}",
    "exception.where": " (dans {function}, à `{line}`)",
    # ---------------------------------------------------------------------------------------------
    # The notebook runs
    "runs.killed": "le notebook tournait encore quand son temps a expiré ({timeout:g} s, plus une minute "
    "pour démarrer) : tout son bac à sable a été arrêté. Une boucle sans fin ? Une cellule qui ignore les "
    "interruptions ?",
    "runs.ended": "le processus du notebook s'est terminé avant la fin de ses cellules (code de sortie "
    "{exit_code}) : os._exit ou sys.exit dans une cellule ? mémoire épuisée ? un plantage dans du code "
    "natif ?",
    "runs.timed_out": "le notebook n'a pas fini en {timeout:g} s : {where} tournait encore à la limite de "
    "temps (une boucle sans fin ? trop d'époques pour ce budget ?) ; les vérifications ci-dessous portent "
    "sur ce qui était défini à ce moment",
    "runs.cell": "la cellule de code {number}",
    "runs.cell_first_line": "la cellule de code {number} (`{first}`)",
    "runs.a_cell": "une cellule",
    "runs.line": ", ligne {line}",
    "runs.raised": "{where!c}{line} a levé {error}{more}",
    "runs.more_one": " ({more} cellule plus bas a échoué aussi)",
    "runs.more_many": " ({more} cellules plus bas ont échoué aussi)",
    "runs.ok": "{seconds:.0f} s",
    # ---------------------------------------------------------------------------------------------
    # TODO 1: Net
    "net.not_module": "`Net` doit être une classe qui hérite de nn.Module : `class Net(nn.Module): …`",
    "net.init_arguments": "{error} (Net() doit marcher sans argument : donnez une valeur par défaut à "
    "chacun)",
    "net.forward_shape": "{error}. Le modèle reçoit des images (B, 1, 28, 28) : aplatissez-les dans forward "
    "(nn.Flatten() ou x.flatten(1)) avant la première couche nn.Linear, qui prend alors 28·28 = 784 entrées",
    "net.not_tensor": "forward a renvoyé {type} ; il doit renvoyer un tenseur de logits",
    "net.output_ok": "un batch de 5 images donne (5, 10)",
    "net.output_classes": "un batch de 5 images donne {shape} : {outputs} sorties par image, mais le TP1 a "
    "10 classes. La dernière couche doit être nn.Linear(…, 10) : un score (logit) par classe",
    "net.output_shape": "un batch de 5 images donne {shape}, attendu (5, 10) : une ligne par image, un "
    "logit par classe. Aplatissez d'abord les images (nn.Flatten()) et terminez par nn.Linear(…, 10)",
    "net.needs_output": "il faut que la sortie de Net soit un tenseur (B, 10) (voir la vérification "
    "ci-dessus)",
    "net.probabilities": "les sorties de Net sont des probabilités (chaque ligne est ≥ 0 et somme à 1) : "
    "forward finit par un softmax. nn.CrossEntropyLoss applique lui-même le log-softmax : les scores sont "
    "écrasés deux fois, les gradients s'aplatissent et l'apprentissage se traîne. Renvoyez les scores bruts "
    "de la dernière nn.Linear ; torch.softmax ne sert qu'à afficher des probabilités",
    "net.logits_ok": "des scores bruts, comme l'attend CrossEntropyLoss",
    "net.too_few": "Net a {count:,} paramètres entraînables : même une régression softmax (une seule "
    "nn.Linear(784, 10)) en a {softmax_regression:,}. Les couches doivent être des attributs du module "
    "(self.fc1 = nn.Linear(…)) ou dans un nn.Sequential / nn.ModuleList — une simple liste Python les cache "
    "à .parameters()",
    "net.too_many": "Net a {count:,} paramètres entraînables : trop pour l'entraîner sur le CPU d'un "
    "portable pendant un TP. Réduisez les couches cachées (un MLP 784-256-128-10 en a 235k ; un petit CNN "
    "100k–500k)",
    "net.size_ok": "{count:,} paramètres",
    # ---------------------------------------------------------------------------------------------
    # TODO 2: train_one_epoch
    "train.never_called_model": "elle n'a jamais appelé le modèle reçu : elle en entraîne un autre (un "
    "`model` global ?). Utilisez les arguments `model`, `optimizer` et `loss_fn`",
    "train.no_gradient": "aucun gradient n'a atteint les paramètres du modèle : il manque loss.backward(), "
    "ou le graphe de calcul est coupé entre la sortie du modèle et la perte — .detach() (puis "
    ".requires_grad_()), .item(), torch.tensor(…), .data ou torch.no_grad() autour de la propagation "
    "avant. La rétropropagation calcule alors le gradient d'une nouvelle feuille, pas celui de θ, et "
    "optimizer.step() n'a rien à appliquer. Passez logits = model(x_batch) tel quel à loss_fn : on perd le "
    "gradient dès qu'on détache",
    "train.no_step": "optimizer.step() n'a jamais été appelé sur l'optimiseur reçu : les gradients ont été "
    "calculés (❸) mais les paramètres jamais mis à jour (❹ mise à jour des paramètres)",
    "train.gradients_wiped": "les gradients étaient vides à chaque optimizer.step() : zero_grad() est "
    "appelé entre loss.backward() et optimizer.step(), et les efface. L'ordre est ❶ propagation avant, "
    "❷ perte, ❸ rétropropagation, ❹ step, puis la remise à zéro des gradients",
    "train.unchanged": "les paramètres du modèle reçu n'ont pas changé : entraînez le `model` et "
    "l'`optimizer` passés en arguments (pas des globaux), et appelez optimizer.step() après "
    "loss.backward()",
    "train.not_lower": "3 époques sur un batch fixe ont mené la perte de {before:.3f} à {after:.3f} ; elle "
    "devrait baisser. Vérifiez les quatre étapes : ❶ propagation avant, ❷ perte, ❸ loss.backward(), "
    "❹ optimizer.step()",
    "train.lowers_ok": "perte {before:.3f} → {after:.3f} en 3 époques sur un batch",
    "train.reference_ok": "2 batchs, SGD : mêmes paramètres que la référence (propagation avant, perte, "
    "rétropropagation, step, zero_grad)",
    "train.unchanged_two_batches": "les paramètres du modèle reçu n'ont pas changé : entraînez le `model` "
    "et l'`optimizer` passés en arguments, appelez optimizer.step() après loss.backward(), et ne remettez "
    "pas les gradients à zéro entre backward() et step()",
    "train.accumulated": "les gradients se sont accumulés : la deuxième mise à jour a utilisé la somme des "
    "gradients des deux batchs. PyTorch *ajoute* chaque backward() dans .grad (« les gradients "
    "s'accumulent ») : remettez les gradients à zéro, optimizer.zero_grad(), à chaque batch, avant "
    "loss.backward() (ou après optimizer.step())",
    "train.softmax_first": "la mise à jour est celle d'une perte calculée sur des probabilités (softmax) : "
    "passez les logits tels quels à loss_fn — nn.CrossEntropyLoss applique lui-même le log-softmax",
    "train.first_batch_only": "seul le premier batch a servi : bouclez sur chaque (x_batch, y_batch) de "
    "batches",
    "train.differs": "après une époque de 2 batchs (SGD, lr 0.1), les paramètres diffèrent de ceux de la "
    "référence jusqu'à {gap:.2g} : chaque batch doit faire exactement une propagation avant, la perte, "
    "loss.backward(), optimizer.step(), avec remise à zéro des gradients à chaque batch",
    "train.needs_run": "il faut que train_one_epoch s'exécute (voir la vérification ci-dessus)",
    "train.returns_tensor": "elle renvoie un tenseur : renvoyez un float Python. Additionnez loss.item() "
    "sur les batchs (garder les tenseurs de perte garderait aussi le graphe de chaque batch en mémoire)",
    "train.returns_other": "elle renvoie {type} : renvoyez la perte moyenne de l'époque, un float",
    "train.returns_infinite": "elle renvoie {value} : la perte doit être un nombre fini",
    "train.returns_ok": "{value:.4f}, la moyenne des pertes des batchs",
    "train.returns_sum": "elle renvoie la somme des pertes des batchs : divisez par le nombre de batchs",
    "train.returns_last": "elle renvoie la perte du dernier batch : renvoyez la moyenne sur tous les batchs "
    "de l'époque",
    "train.returns_wrong": "elle renvoie {value:.4f}, mais la moyenne des pertes des batchs de l'époque est "
    "{mean:.4f} : renvoyez la moyenne de loss.item() sur les batchs",
    "train.mode_malformed": "le bac à sable n'a pas renvoyé de statistiques de batch norm de la forme de la "
    "sonde (données invalides)",
    "train.mode_ok": "model.train() avant la propagation avant : les statistiques de batch norm de la sonde "
    "ont bougé comme en mode entraînement",
    "train.mode_never_called": "train_one_epoch n'a jamais appelé le modèle reçu : calculez model(x_batch)",
    "train.mode_eval": "le modèle est resté en mode évaluation pendant l'entraînement : ses statistiques de "
    "batch norm n'ont pas bougé. Appelez model.train() au début de train_one_epoch. evaluate() le passe en "
    "mode évaluation, donc sans cela dropout et batch norm resteraient éteints à chaque époque après la "
    "première",
    "train.mode_wrong": "après un batch, les statistiques de batch norm de la sonde ne sont pas celles d'une "
    "propagation avant en mode entraînement ({calls} appels du modèle) : appelez d'abord model.train(), "
    "puis model(x_batch) une fois par batch",
    # ---------------------------------------------------------------------------------------------
    # TODO 3: evaluate
    "evaluate.never_called": "evaluate n'a jamais appelé le modèle reçu : calculez model(x) sur le x reçu",
    "evaluate.not_number": "elle renvoie {type} : renvoyez la précision, un float dans [0, 1]",
    "evaluate.ok": "{value:.4f} sur 64 images du correcteur, comme la référence{big}{tip}",
    "evaluate.tip_item": " (conseil : renvoyez .item(), un float Python, plutôt qu'un tenseur)",
    "evaluate.percentage": "elle renvoie {value:g}, un pourcentage : renvoyez une fraction dans [0, 1] "
    "({reference})",
    "evaluate.error_rate": "elle renvoie le taux d'erreur (la fraction d'erreurs) : renvoyez la fraction de "
    "bonnes réponses",
    "evaluate.flat_argmax": "sur 64 images du correcteur elle renvoie {value:.4f}, mais le modèle en a "
    "{reference:.4f} de justes : les prédictions viennent de logits.argmax() sans dim, qui donne UN seul "
    "indice dans tout le tenseur (B, 10) aplati, pas une classe par image. Utilisez logits.argmax(dim=1) : "
    "le plus grand score de chaque ligne",
    "evaluate.other_data": "sur 64 images du correcteur elle renvoie {value:.4f}, mais le modèle en a "
    "{reference:.4f} de justes. Mesurez le modèle sur les x et y reçus en arguments : avec les tenseurs "
    "d'entraînement (un global comme x_train), on mesure ce que le modèle a mémorisé, pas ce qu'il "
    "généralise",
    "evaluate.big_failed": "sur {n:,} images du correcteur : {error}",
    "evaluate.big_not_number": "sur {n:,} images elle renvoie {type} : renvoyez la précision, un float dans "
    "[0, 1]",
    "evaluate.big_ok": " ; et sur {n:,} images",
    "evaluate.big_chunks": "sur {n:,} images du correcteur elle renvoie {value:.4f}, mais le modèle en a "
    "{expected:.4f} de justes : elle fait la moyenne des précisions des morceaux, et le dernier morceau est "
    "plus petit, donc chacune de ses images pèse plus. Comptez les bonnes réponses sur tous les morceaux, "
    "puis divisez par len(y)",
    "evaluate.big_wrong": "juste sur 64 images, mais sur {n:,} images du correcteur elle renvoie "
    "{value:.4f} alors que le modèle en a {expected:.4f} de justes : mesurez chaque image du x reçu, et "
    "divisez par len(y)",
    "evaluate.needs_number": "il faut qu'evaluate renvoie un nombre ; elle renvoie {type} (voir la "
    "vérification ci-dessus)",
    "evaluate.wrong_above": "impossible à dire d'après le nombre que renvoie evaluate, qui est faux (voir "
    "plus haut)",
    "evaluate.neither": "sur 64 images d'une sonde du correcteur dont les scores bougent {state}, evaluate "
    "a renvoyé {value:.4f} : ni sa précision ({right:.4f}) ni sa précision {state} ({marked:.4f}). Mesurez "
    "le modèle sur les x et y reçus en arguments",
    "evaluate.state_training": "en mode entraînement",
    "evaluate.state_autograd": "sous autograd",
    "evaluate.mode_ok": "model.eval() avant la propagation avant : une sonde dont les scores bougent en "
    "mode entraînement a été mesurée en mode évaluation",
    "evaluate.mode_training": "le modèle était en mode entraînement : appelez model.eval() avant de prédire. "
    "En mode entraînement, le dropout éteint des neurones au hasard et la batch norm prend les statistiques "
    "du batch : la précision est biaisée, elle mesure un réseau affaibli",
    "evaluate.no_grad_ok": "aucun graphe construit : une sonde dont les scores bougent sous autograd a été "
    "mesurée sans",
    "evaluate.no_grad_autograd": "autograd a enregistré la propagation avant : entourez les prédictions de "
    "`with torch.no_grad():`. L'évaluation n'a pas besoin de gradients, et le graphe de calcul coûte "
    "mémoire et temps",
    # ---------------------------------------------------------------------------------------------
    # TODO 4: loss_fn
    "loss.raised_mse": "avec des logits (B, 10) et des labels entiers (B,), {raised}. MSELoss compare deux "
    "tenseurs de même forme (une régression : des prédictions qui approchent des nombres) ; les labels sont "
    "des indices de classe, pas des quantités. Pour 10 classes, prenez nn.CrossEntropyLoss(), qui prend les "
    "scores bruts (logits) et les labels entiers",
    "loss.raised": "avec des logits (B, 10) et des labels entiers (B,), {raised}",
    "loss.not_number": "elle renvoie {type}{shape} : elle doit renvoyer la perte moyenne du batch, un seul "
    "nombre (reduction='mean')",
    "loss.of_shape": " de forme {shape}",
    "loss.no_gradient": "sa valeur est l'entropie croisée, mais aucun gradient ne remonte jusqu'aux logits "
    ": la perte a été coupée du graphe de calcul (.item(), torch.tensor(…), .detach()). Renvoyez le tenseur "
    "que donne nn.CrossEntropyLoss()",
    "loss.ok": "{value:.4f} : l'entropie croisée des logits du correcteur, avec son gradient",
    "loss.mse": "c'est l'erreur quadratique moyenne contre des vecteurs one-hot : la MSE compare deux "
    "tenseurs de même forme (une régression) et demande à chacun des 10 scores de valoir 0 ou 1 — rien n'en "
    "fait des probabilités, et une bonne réponse est punie d'être trop sûre. Pour 10 classes, prenez "
    "nn.CrossEntropyLoss(), qui prend les scores bruts (logits) et les labels entiers",
    "loss.softmax": "elle applique un softmax avant CrossEntropyLoss : les scores sont écrasés deux fois, "
    "car CrossEntropyLoss applique lui-même le log-softmax. La perte ne peut alors pas descendre sous "
    "≈ 1,46 (log(1 + 9/e)) et ses gradients s'aplatissent : passez directement les logits à "
    "nn.CrossEntropyLoss()",
    "loss.nll": "c'est NLLLoss sur des scores qui ne sont pas des log-probabilités : NLLLoss prend "
    "seulement −score[vraie classe], il attend la sortie d'un log_softmax. nn.CrossEntropyLoss() fait "
    "log-softmax + NLLLoss en une fois : donnez-lui les logits",
    "loss.sum": "c'est la somme des entropies croisées du batch, pas leur moyenne : le pas grandit alors "
    "avec la taille du batch. Prenez nn.CrossEntropyLoss() (reduction='mean')",
    "loss.bce": "c'est une entropie croisée binaire contre des vecteurs one-hot : 10 questions oui/non "
    "indépendantes, pas un choix parmi 10 classes. Prenez nn.CrossEntropyLoss() sur les logits et les "
    "labels entiers",
    "loss.other": "sur les logits et labels du correcteur elle donne {value:.4f}, alors que l'entropie "
    "croisée vaut {cross_entropy:.4f} : prenez nn.CrossEntropyLoss() sur les logits bruts et les labels "
    "entiers",
    # ---------------------------------------------------------------------------------------------
    # The training cell: model and test_accuracy
    "model.not_module": "`model` devrait être le Net entraîné (un nn.Module), trouvé {type}",
    "model.not_net": "`model` est un {type}, pas une instance de votre Net : la cellule d'entraînement doit "
    "entraîner model = Net()",
    "model.size": "`model` a {count:,} paramètres entraînables : un Net du TP1 en a de {low:,} à {high:,}",
    "model.no_logits": "`model` n'a pas donné de logits (N, 10) pour les {n:,} images du correcteur (reçu : "
    "{got})",
    "model.nothing": "rien",
    "model.not_normalised": "les images ne sont pas normalisées : {name} a une moyenne {mean:.2f}, "
    "écart-type {std:.2f}, valeurs dans [{low:.2f}, {high:.2f}], alors que des images normalisées ont une "
    "moyenne proche de 0 et un écart-type proche de 1. Le modèle a appris sur des entrées d'une autre "
    "échelle que les images de test normalisées ((pixel/255 − moyenne)/écart-type, comme Batches avec "
    "mean=dataset.mean, std=dataset.std) que le correcteur lui donne : sa précision y diffère de celle que "
    "vous avez mesurée. Normalisez toutes les parties de la même façon, et entraînez à nouveau",
    "model.private_images": "{n:,} images de {dataset} qu'il n'a jamais vues (gardées par le correcteur)",
    "model.looks_up": "`model` obtient {public:.4f} sur les images de test publiques mais {private:.4f} sur "
    "{where} : il reconnaît les images de test publiques au lieu de les classer",
    "model.ok": "{accuracy:.4f} sur {where}, au-dessus de {threshold}",
    "model.below_inputs": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : {inputs}",
    "model.below_training_wrong": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : "
    "l'entraînement est faux (voir plus haut)",
    "model.below": "`model` obtient {accuracy:.4f} sur {where}, sans dépasser {threshold} : entraînez plus "
    "d'époques, réglez le pas d'apprentissage, ou essayez un CNN (celui du corrigé atteint 0,92 sur "
    "Fashion-MNIST)",
    "reported.needs_model": "il faut le `model` entraîné (voir la vérification ci-dessus)",
    "reported.not_number": "`test_accuracy` devrait être un nombre, trouvé {type}",
    "reported.ok": "{value:.4f}, comme le mesure le correcteur ({private:.4f} sur les images qu'il a "
    "gardées)",
    "reported.looks_up": "`model` ne classe pas les images de test (voir la vérification ci-dessus)",
    "reported.inputs": "test_accuracy = {value:.4f}, mais le correcteur mesure {public:.4f} : {inputs}",
    "reported.evaluate_wrong": "test_accuracy = {value:.4f}, mais `model` obtient {public:.4f} sur le test "
    ": test_accuracy vient de votre evaluate, qui est faux (voir plus haut)",
    "reported.wrong": "test_accuracy = {value:.4f}, mais `model` obtient {public:.4f} sur le test : "
    "calculez-la avec evaluate(model, x_test, y_test) après l'entraînement — sur la partie test, pas sur "
    "les données d'entraînement ou de validation",
    # ---------------------------------------------------------------------------------------------
    # The verdicts, and the report around them
    "decide.caused_by": "conséquence de l'échec ci-dessus (\u00ab\u00a0{title}\u00a0\u00bb)",
    "decide.caused_by_hint": "{caused_by}\u00a0: {hint}",
    "decide.could_not": "impossible de décider : {reason}",
    "report.title": "Vérification du TP1",
    "report.unsandboxed": "le notebook a tourné avec les droits du correcteur",
    "report.digits": "note : Fashion-MNIST n'est pas disponible ici : noté sur les chiffres (agrandis en "
    "28×28)",
    "report.missing": "ce notebook ne définit pas {names} : est-ce bien le notebook du TP1, complété et "
    "exécuté dans l'ordre ? (les noms sont listés en tête de 03_tp1_fashion_mnist.ipynb)",
    "report.budget": "budget",
    "report.all_pass": "toutes les vérifications passent",
    "report.to_fix": "{n} à corriger",
    "report.not_graded": "non noté",
    "report.score": "score",
    # ---------------------------------------------------------------------------------------------
    # A class's grading: each student's feedback page and Moodle comment, the class report, the terminal
    "feedback.title": "TP1 — retour sur votre notebook",
    "feedback.grade": "Note\u00a0: {grade}/{maximum}",
    "feedback.notebook": "Notebook noté\u00a0: {name}",
    "feedback.others": "Aussi dans votre remise, non noté (un seul notebook est noté par étudiant\u00a0: {rule})\u00a0: "
    "{names}",
    "feedback.ignored": "Autres fichiers de votre remise (non lus)\u00a0: {names}",
    "feedback.nothing": "Rien n'a été noté\u00a0: {problem}",
    "feedback.checks": "Les vérifications",
    "feedback.context": "Noté sur {dataset}, budget {budget}, graine {seed}.",
    "feedback.accuracy": "Précision sur le test mesurée par le correcteur\u00a0: {accuracy:.4f} (le seuil\u00a0: {threshold:.2f}).",
    "feedback.rerun": "Pour vérifier vous-même votre notebook\u00a0: drlab check tp1 votre_notebook.ipynb",
    "feedback.file": "tp1-retour.html",
    "pick.rule": "celui dont le nom contient «\u00a0tp1\u00a0», sinon le plus récemment modifié",
    "comment.head": "TP1 (drlab check)\u00a0: {score}/{max_score}",
    "comment.details": "Le détail, vérification par vérification, est dans votre fichier de retour.",
    "class.title": "TP1 — rapport de la classe",
    "class.sub": "{count} remises notées{context}.",
    "class.from_csv": " (d'après {csv})",
    "class.scores": "Scores",
    "class.scores_text": "Moyenne {mean:.1f}/{max_score}, médiane {median:g}/{max_score}\u00a0; {passed} sur {count} passent "
    "toutes les vérifications.",
    "class.checks": "Vérifications",
    "class.check": "vérification",
    "class.passed": "réussie",
    "class.rate": "taux",
    "class.missed": "Ce que la classe a manqué",
    "class.missed_text": "Pour chaque vérification, les causes que son indice a nommées, comptées sur les notebooks "
    "dont c'est le premier ✗ (un ✗ suivant peut être une conséquence du premier).",
    "class.cause_line": "{count} sur {total}\u00a0: {cause}",
    "class.nothing_missed": "Aucune vérification n'a échoué en premier dans aucun notebook.",
    "class.trouble": "Notebooks qui n'ont pas tourné proprement",
    "class.trouble_none": "Chaque notebook a tourné, dans son bac à sable, sans plantage ni dépassement de temps.",
    "class.status": "statut",
    "class.sandbox": "bac à sable",
    "class.notebook": "notebook",
    "class.problem": "ce qui s'est passé",
    "class.seconds": "Temps par notebook",
    "class.seconds_text": "Médiane {median:.0f} s, le plus long {longest:.0f} s ({name})\u00a0; {total:.0f} s en tout.",
    "class.alike": "Remises qui se ressemblent — à regarder",
    "class.alike_text": "Les paires dont le code propre (les cellules du notebook d'exercice retirées) est presque "
    "identique, les plus semblables d'abord. Ce n'est pas un verdict\u00a0: une séance d'aide commune, un indice "
    "sur le forum ou une réponse courte rendent le code semblable. Ouvrez les deux notebooks avant toute "
    "conclusion.",
    "class.alike_none": "Aucune paire de remises n'a un code propre presque identique (similarité ≥ {threshold}).",
    "class.alike_unknown": "Non calculé\u00a0: il faut les notebooks (ce rapport vient d'une feuille de scores).",
    "class.similarity": "similarité",
    "class.shared": "lignes communes",
    "class.files": "Fichiers non notés",
    "class.others": "Autres notebooks d'une remise (un seul est noté par étudiant\u00a0: {rule})\u00a0: {names}",
    "class.ignored": "Fichiers qui ne sont pas des notebooks (listés, jamais lus)\u00a0: {names}",
    "class.skipped": "Entrées du zip ignorées\u00a0:",
    "class.context": " (graine {seed}, budget {budget})",
    "class.moodle": "Moodle",
    "class.moodle_filled": "{worksheet}\u00a0: lignes remplies\u00a0: {filled} sur {total}\u00a0; les autres sont "
    "laissées telles quelles (pas de remise).",
    "class.moodle_missing": "Remises sans ligne dans la feuille de notes (non importées)\u00a0: {names}",
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
    "say.worksheet": "feuille de notes remplie\u00a0: {path} (lignes remplies\u00a0: {filled} sur {total}\u00a0; les autres "
    "telles quelles)",
    "say.no_feedback_column": "note\u00a0: la feuille n'a pas de colonne «\u00a0{name}\u00a0» (activez les "
    "commentaires de feedback du devoir pour les importer)\u00a0: seules les notes sont remplies",
    "say.not_in_sheet": "attention\u00a0: remises sans ligne dans la feuille, non importées ({count})\u00a0: {names}",
    "say.feedback_zip": "fichiers de feedback pour Moodle\u00a0: {path} (pages\u00a0: {count})",
    "say.feedback_dir": "pages de retour\u00a0: {path} (pages\u00a0: {count})",
    "say.report": "rapport de la classe\u00a0: {path}",
    "say.scores": "scores écrits dans {path}",
    "say.skipped": "attention\u00a0: entrées des remises ignorées ({count})\u00a0: {names}",
    "say.several": "note\u00a0: remises avec plusieurs notebooks\u00a0: {count}\u00a0; noté\u00a0: {rule} (les autres "
    "sont listés dans le rapport)",
    "say.interrupted": "interrompu\u00a0: {done} sur {total} notés\u00a0; {path} les contient\u00a0; ni feuille de notes, "
    "ni retours, ni rapport écrits",
}
