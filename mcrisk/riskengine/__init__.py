"""Risk engine behind `mcrisk.risk`: horizon revaluation, tail metrics, attribution, exposure,
stress and margin. (Not named `mcrisk.risk`: a subpackage of that name would shadow the
public `mcrisk.risk` function once imported.)"""
