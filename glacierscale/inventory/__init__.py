"""Inventory stage: read glacier outlines and cut them into work units on a fixed grid."""

from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory

__all__ = ["WorkUnit", "plan_units", "read_inventory"]
