# made by bench/paper_campaign.sh at 2026-12-02T04:13Z on 2 cores, commit 4b2ae62
# builds: BUILDS=5 per point (b0 = shipped Sionna RT; b1.. = sionna-umi seeds 1..)
uara compare results/paper/instances --solvers random\,random+exact\,max-sinr\,max-sinr+exact\,max-compute\,max-compute+exact\,tma\,masac\,masac-uara\,relax\,price --seeds 0 --time-limit 10 --workers 1 --no-bounds --output results/paper 
uara compare results/paper/instances --solvers latency-search --option latency-search:max_calls=4 --option latency-search:slot_time_s=600 --seeds 0 --workers 1 --no-bounds --output results/paper 
uara compare instances/m60_e8.json --solvers random\,max-sinr\,max-compute\,tma\,masac\,masac-uara --seeds 0 --time-limit 10 --param energy_weight=20\,40\,60\,80\,100 --param energy_model=paper\,physical --workers 1 --no-bounds --output results/paper 
python bench/paper_claims.py results/paper --output results/paper/claims.json --builds-per-point 5 
uara report results/paper --title The\ paper\'s\ claims\ on\ credible\ scenarios\ \(uara\ 0.1.0\,\ 4b2ae62\) 
