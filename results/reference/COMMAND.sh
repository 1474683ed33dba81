# made by bench/reference_comparison.sh at 2026-12-01T23:13Z on 2 cores, commit bb82e64
uara compare instances/ --solvers random\,max-sinr\,max-compute\,tma\,masac\,relax\,exact\,price --seeds 0\,1 --time-limit 20 --bound-time-limit 20 --workers 2 --output results/reference 
uara compare instances/m60_e8.json --solvers random\,max-sinr\,max-compute\,tma\,masac --seeds 0\,1 --time-limit 20 --param energy_weight=20\,40\,60\,80\,100 --param energy_model=paper\,physical --workers 2 --output results/reference 
uara report results/reference --title Reference\ comparison\ \(uara\ 0.1.0\,\ bb82e64\) 
