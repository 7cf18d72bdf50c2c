"""Pure logic tested directly: the grammar, the plan, the editor, validation, schedules, rendering, routing. No I/O."""
