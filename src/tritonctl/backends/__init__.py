"""Stand-ins for Triton backends the pytriton wheel lacks, run by Triton's python backend on this machine."""
