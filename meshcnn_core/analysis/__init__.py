"""What a trained model does across meshes and models: attributions, surveys, model diffs, novelty.

Built on the top level (checkpoints, inference, recordings); nothing below imports it. Modules:

- :mod:`.explain` -- edge attributions (Grad-CAM through merge groups, gradient x input, integrated
  gradients) and the deletion check that says whether an attribution beats random.
- :mod:`.survey` -- what a model keeps, per class or part: per-mesh summaries and their sum.
- :mod:`.survey_run` -- running a survey over a data-set folder, with a resumable cache.
- :mod:`.dihedral` -- the true dihedral angle of each edge and its bins (sharp to flat).
- :mod:`.regions` -- geodesic eccentricity of each edge (core to extremities) and what a class keeps of each.
- :mod:`.part_keep` -- per ground-truth part, the share of its edges a model keeps at each stage.
- :mod:`.model_diff` -- two recordings of one mesh: priority rank correlation, first divergence.
- :mod:`.ood` / :mod:`.ood_stats` -- the out-of-distribution score and the statistics a checkpoint stores.
"""
