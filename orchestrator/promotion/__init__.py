"""Promotion on evidence: the candidate, paired seed reruns, the pure decision rule, and the
two-step commit of the decision around the incumbent file."""
