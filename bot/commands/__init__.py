"""What a comment means and what the app answers: each command's declaration
(``registry``), the ``/runners`` grammar (``grammar``),
the pure phases of answering a comment, plan → decide (``pipeline``), permission rules
(``permissions``), reply budgets (``reply_limits``), reply and pull request text
(``render``, from ``templates/``), GitHub's body limit (``bodies``), judging a rollout
(``rollout``) and the dashboard's text (``fleet_view``). Pure: may import ``bot.fleet``,
nothing that does I/O."""
