from django.http import HttpResponse


def chart_of_accounts(request):
    return HttpResponse("chart")


def account_detail(request, pk):
    return HttpResponse("account")


def entry_detail(request, number):
    return HttpResponse("entry")


def trial_balance(request):
    return HttpResponse("tb")
