"""What a comment means and what the app answers: each command's declaration
(``registry``), the ``/runners`` grammar (``grammar``),
the pure phases of answering a comment, plan → decide (``pipeline``), permission rules
(``permissions``), reply budgets (``reply_limits``), reply and pull request text
(``render``, from ``templates/``), the job evidence's answers (``evidence_text``) and a
right-sizing proposal, a command line the pipeline replays (``rightsizing``). What the App
reports of its own accord lives in :mod:`bot.reports`. Pure: may import ``bot.fleet`` and
``bot.capacity``, nothing that does I/O."""
