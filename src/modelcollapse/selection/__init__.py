"""Selection stages: what of a generation's synthetic data may enter the next training set."""

from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig
from modelcollapse.selection.curate import register_reward
from modelcollapse.selection.pipeline import Selection

__all__ = ["Generation", "Screened", "Selection", "Setting", "Stage", "StageConfig", "register_reward"]
