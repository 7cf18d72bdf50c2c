"""What the App reports besides a command's answer, as text: a rollout judged from what
the cluster shows and the checklist it becomes (``rollout``), why jobs wait
(``why_waiting``), the fleet dashboard (``fleet_view``), and the bodies of every comment
it posts: the hidden markers it finds them again by (``markers``) and GitHub's body limit
(``bodies``). Pure: renders with :mod:`bot.commands.render` and reads :mod:`bot.cluster`,
:mod:`bot.capacity` and :mod:`bot.fleet`; nothing that does I/O."""
