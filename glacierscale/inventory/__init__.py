"""Inventory stage: read glacier outlines and cut them into work units on a fixed grid.

``read_inventory`` reads RGI 7.0/6.0, GLIMS and national inventories (file, zip or folder; any CRS);
``plan_units`` tiles them (UTM / polar stereographic per zone, see ``grid``); ``make_plan`` adds selection and
time windows and ``write_plan`` stores the plan as GeoParquet, which ``read_plan`` turns back into WorkUnits.
"""

from glacierscale.inventory.grid import zone_epsg
from glacierscale.inventory.plan import Plan, PlanSpec, make_plan, read_plan, write_plan
from glacierscale.inventory.regions import Selection, parse_region_codes, select_glaciers
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory

__all__ = ["Plan", "PlanSpec", "Selection", "WorkUnit", "make_plan", "parse_region_codes", "plan_units",
           "read_inventory", "read_plan", "select_glaciers", "write_plan", "zone_epsg"]
